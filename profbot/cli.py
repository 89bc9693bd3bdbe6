"""The ``profbot`` command: ``profbot serve`` (Slack-facing) and ``profbot runner`` (host side)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from profbot import __version__, logs
from profbot.errors import ConfigError, RedisUnavailable
from profbot.settings import RunnerSettings, ServeSettings, load

EXIT_CONFIG = 2
EXIT_UNAVAILABLE = 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="profbot",
        description="Operate a Grafana Pyroscope stack running in podman containers from Slack.",
        epilog="Settings come from the environment or a .env file in the working directory; see README.md.",
    )
    parser.add_argument("--version", action="version", version=f"profbot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser(
        "serve",
        help="run the Slack-facing HTTP service",
        description="Serve Slack's requests on POST /slack/events and a probe on GET /healthz. "
        "Needs SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET and Redis (REDIS_URL).",
    )
    sub.add_parser(
        "runner",
        help="run the host-side runner that executes operations on this podman host",
        description="Read jobs for PROFBOT_HOST_ID from Redis and execute them through the podman "
        "socket (CONTAINER_HOST) and the Pyroscope API (PYROSCOPE_URL).",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            from bot.service import serve

            serve_settings = load(ServeSettings)
            logs.configure(serve_settings.log_level)
            asyncio.run(serve(serve_settings))
        else:
            from runner.service import run_runner

            runner_settings = load(RunnerSettings)
            logs.configure(runner_settings.log_level)
            asyncio.run(run_runner(runner_settings))
    except ConfigError as exc:
        print(f"profbot: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except RedisUnavailable as exc:
        print(f"profbot: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
