"""``profbot up`` (what ``make run`` runs): everything on this machine, in one process.

In order: profbot's own Redis (unless ``REDIS_URL`` is set), this host's runner, then a front end:
Slack over Socket Mode, Slack over HTTP, or the shell (with the local user as an operator when
``PROFBOT_OPERATORS`` names nobody). Stopping (Ctrl-C, SIGTERM, or leaving the shell) goes the other
way: the front end stops taking work and finishes what it took, the runner drains its jobs, and
Redis writes its append-only file before it exits; nothing queued is lost.
"""

from __future__ import annotations

import asyncio
import signal
import sys

import structlog

from profbot import logs
from profbot.embedded_redis import redis_url_for
from profbot.keys import Keys
from profbot.redis_access import connect_checked
from profbot.settings import RunnerSettings, ServeSettings, ShellSettings, front_end, load, without_password

log = structlog.get_logger("profbot.up")

HEARTBEAT_WAIT_SECONDS = 15.0


async def first_heartbeat(redis_url: str, prefix: str, host: str) -> None:
    """Wait (a little) for this host's runner, so the first command finds it."""
    redis = await connect_checked(redis_url)
    try:
        deadline = asyncio.get_running_loop().time() + HEARTBEAT_WAIT_SECONDS
        alive = Keys(prefix).alive(host)
        while asyncio.get_running_loop().time() < deadline and not await redis.exists(alive):  # noqa: ASYNC110
            await asyncio.sleep(0.1)  # polling Redis, where the runner's heartbeat lands
    finally:
        await redis.aclose()


def up(user: str | None) -> int:
    from bot.service import serve
    from bot.shell.service import run_shell, shell_user
    from runner.service import run_runner

    runner_settings = load(RunnerSettings)
    front = front_end()
    serve_settings = load(ServeSettings) if front != "shell" else None
    shell_settings = load(ShellSettings) if front == "shell" else None
    interactive = front == "shell" and sys.stdin.isatty() and sys.stdout.isatty()
    state = runner_settings.state_dir
    logs.configure(
        runner_settings.log_level, json=runner_settings.json_logs, to=state / "profbot.log" if interactive else None
    )

    async def run() -> int:
        async with redis_url_for(runner_settings.redis_url, state) as url:
            # Two stops, in order: the front end first (it finishes what it took, which may still
            # need the runner), then the runner (it drains its jobs); Redis last, on leaving the block.
            stop_front, stop_runner = asyncio.Event(), asyncio.Event()
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGTERM, stop_front.set)
            if not interactive:  # at the shell, Ctrl-C cancels the command running, Ctrl-D leaves
                loop.add_signal_handler(signal.SIGINT, stop_front.set)
            runner = asyncio.create_task(run_runner(runner_settings, url, stop_runner), name="runner")
            beat = asyncio.create_task(first_heartbeat(url, runner_settings.redis_prefix, runner_settings.host_id))
            await asyncio.wait({runner, beat}, return_when=asyncio.FIRST_COMPLETED)
            if runner.done():  # it could not start: say why, rather than serve without it
                beat.cancel()
                await runner
            code = 0
            try:
                beat.result()  # its failure (Redis gone meanwhile) is said, not left unread
                log.info("up", front_end=front, redis=without_password(url), host=runner_settings.host_id)
                if shell_settings is not None:
                    who = shell_user(user)
                    # On a machine nobody configured, the person at its terminal operates it.
                    operators = frozenset() if shell_settings.operator_ids else frozenset({who})
                    code = await run_shell(shell_settings, url, user=who, operators=operators, stop=stop_front)
                elif serve_settings is not None:
                    await serve(serve_settings, url, stop_front)
            finally:
                stop_runner.set()
                await runner
            return code

    return asyncio.run(run())
