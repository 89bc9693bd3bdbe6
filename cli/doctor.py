"""``profbot doctor``: every setting and connection, one line per check, each failing one with its
fix; exit 0 only when all pass."""

from __future__ import annotations

import asyncio

import aiohttp

from profbot import doctor as core
from profbot.doctor import Check
from profbot.settings import CommonSettings, RunnerSettings, ServeSettings, ShellSettings, front_end


async def checks() -> list[Check]:
    from bot.service import slack_client
    from bot.slack.doctor import slack
    from runner.doctor import podman, pyroscope

    found: list[Check] = []
    runner_check, runner_settings = core.settings("runner", RunnerSettings)
    found.append(runner_check)
    serve_settings: ServeSettings | None = None
    if front_end() == "shell":
        found.append(core.settings("shell", ShellSettings)[0])
        found += core.half_configured_slack()
    else:
        serve_check, serve_settings = core.settings("serve", ServeSettings)
        found.append(serve_check)
    common: CommonSettings | None = runner_settings or serve_settings
    if common is None:
        common_check, common = core.settings("Redis", CommonSettings)
        if common is None:
            found.append(common_check)
    if common is not None:
        found.append(await core.redis(common))
    if runner_settings is not None:
        found += [await podman(runner_settings), await pyroscope(runner_settings)]
    if serve_settings is not None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
            found += await slack(serve_settings, slack_client(serve_settings, session))
    return found


def doctor() -> int:
    found = asyncio.run(checks())
    for check in found:
        print(check.line())
    failing = [c for c in found if not c.ok]
    print(f"{len(found) - len(failing)} of {len(found)} checks pass" + (": fix the ones above" if failing else ""))
    return 1 if failing else 0
