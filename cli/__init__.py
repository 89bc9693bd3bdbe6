"""The ``profbot`` command, the one place the core names the processes it starts:

- ``profbot up``      what ``make run`` runs: profbot's own Redis (unless ``REDIS_URL``), this host's
                      runner, and a front end (Slack over Socket Mode, Slack over HTTP, or the shell)
- ``profbot serve``   Slack and the alert webhooks
- ``profbot runner``  the host-side runner
- ``profbot shell``   the terminal front end
- ``profbot doctor``  every setting and connection checked, each failing one with its fix
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable

import structlog

from profbot import __version__, logs
from profbot.embedded_redis import redis_url_for
from profbot.errors import ConfigError, RedisUnavailable
from profbot.settings import RunnerSettings, ServeSettings, ShellSettings, load

log = structlog.get_logger("profbot.cli")

EXIT_CONFIG = 2
EXIT_UNAVAILABLE = 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="profbot",
        description="Operate a Grafana Pyroscope stack running in podman containers, from Slack or a terminal.",
        epilog="Settings come from the environment or a .env file in the working directory; see README.md.",
    )
    parser.add_argument("--version", action="version", version=f"profbot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    up = sub.add_parser(
        "up",
        help="run profbot on this machine: its Redis, this host's runner and a front end",
        description="Start profbot's own Redis unless REDIS_URL is set, this host's runner, and a front end: "
        "Slack over Socket Mode (SLACK_BOT_TOKEN and SLACK_APP_TOKEN), Slack over HTTP (SLACK_BOT_TOKEN and "
        "SLACK_SIGNING_SECRET), else the shell with you as an operator. Ctrl-C (or leaving the shell) stops "
        "everything it started, in order.",
    )
    up.add_argument("--user", help="the shell's user, when the front end is the shell (default: your login name)")
    sub.add_parser(
        "serve",
        help="run Slack's front end and the alert webhooks",
        description="Serve Slack over Socket Mode (SLACK_APP_TOKEN) or signed HTTP requests on POST /slack/events "
        "(SLACK_SIGNING_SECRET), the alert webhooks, GET /healthz, /readyz and /metrics on PROFBOT_LISTEN. Needs "
        "SLACK_BOT_TOKEN.",
    )
    sub.add_parser(
        "runner",
        help="run the host-side runner that executes operations on this podman host",
        description="Read jobs for PROFBOT_HOST_ID from Redis and execute them through the podman "
        "socket (CONTAINER_HOST) and the Pyroscope API (PYROSCOPE_URL).",
    )
    shell = sub.add_parser(
        "shell",
        help="the terminal front end: the same commands as /prof in Slack",
        description="Type `health`, `diagnose unavailable`, `restart pyroscope`... (or /prof ...). On standard "
        "input that is not a terminal: one command per line; exit 0 when every command ran, 1 otherwise.",
    )
    shell.add_argument("--user", help="who you are, recorded as shell:NAME (default: your login name)")
    sub.add_parser(
        "doctor",
        help="check every setting and connection, and say how to fix what fails",
        description="Settings, Redis, the podman socket, Pyroscope's /ready, and Slack (token, scopes, Socket Mode "
        "token, membership of the alert and audit channels): one line per check; exit 0 only when all pass.",
    )
    return parser


def _serve(args: argparse.Namespace) -> int:
    from bot.service import serve

    settings = load(ServeSettings)
    logs.configure(settings.log_level, json=settings.json_logs)

    async def run() -> None:
        async with redis_url_for(settings.redis_url, settings.state_dir) as url:
            await serve(settings, url)

    asyncio.run(run())
    return 0


def _runner(args: argparse.Namespace) -> int:
    from runner.service import run_runner

    settings = load(RunnerSettings)
    logs.configure(settings.log_level, json=settings.json_logs)
    if settings.redis_url is None:
        log.warning("redis_url_unset", hint="profbot's own Redis on this machine: a bot on another machine "
                    "will not see this runner; set REDIS_URL to the Redis the bot uses")  # fmt: skip

    async def run() -> None:
        async with redis_url_for(settings.redis_url, settings.state_dir) as url:
            await run_runner(settings, url)

    asyncio.run(run())
    return 0


def _shell(args: argparse.Namespace) -> int:
    from bot.shell.service import run_shell, shell_user

    settings = load(ShellSettings)
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    # At a terminal, log lines would run through the prompt: they go to the state directory.
    logs.configure("warning", json=settings.json_logs, to=settings.state_dir / "shell.log" if interactive else None)

    async def run() -> int:
        async with redis_url_for(settings.redis_url, settings.state_dir) as url:
            return await run_shell(settings, url, user=shell_user(args.user))

    return asyncio.run(run())


def _up(args: argparse.Namespace) -> int:
    from cli.up import up

    return up(args.user)


def _doctor(args: argparse.Namespace) -> int:
    from cli.doctor import doctor

    return doctor()


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "up": _up,
    "serve": _serve,
    "runner": _runner,
    "shell": _shell,
    "doctor": _doctor,
}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ConfigError as exc:
        logs.fatal(f"profbot: configuration error: {exc}")
        return EXIT_CONFIG
    except RedisUnavailable as exc:
        logs.fatal(f"profbot: {exc}")
        return EXIT_UNAVAILABLE
    except KeyboardInterrupt:
        return 130
