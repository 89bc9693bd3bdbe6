"""The baselines profbot's headline figures are divided by, each doing only the least its job
needs, so a ratio measured in one run says what profbot adds on whatever machine runs it:

- ``bolt PORT SLACK_API_URL``: a bare slack-bolt app (AsyncApp, bolt's own aiohttp server) that verifies Slack's
  signature, as profbot does, and only acks ``/prof``;
- ``intake PORT REDIS_URL KEY``: a bare aiohttp handler that checks the bearer token, parses the
  webhook's JSON and makes one Redis write (an LPUSH of the body) per webhook;
- ``imports MODULE...``: an interpreter that imports the given modules, prints its VmRSS in kB
  and waits (the runner's libraries without the runner).

Each prints ``ready`` once it serves (or its RSS), then runs until it is killed.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path


def bolt(port: int, slack_api_url: str) -> None:
    from slack_bolt.app.async_app import AsyncApp
    from slack_bolt.context.ack.async_ack import AsyncAck
    from slack_sdk.web.async_client import AsyncWebClient

    from tests.rig.slack_requests import SIGNING_SECRET
    from tests.rig.slack_standin import DEFAULT_TOKEN

    # Its one auth.test goes to the Slack stand-in, as profbot's does.
    client = AsyncWebClient(token=DEFAULT_TOKEN, base_url=slack_api_url)
    app = AsyncApp(signing_secret=SIGNING_SECRET, client=client)

    @app.command("/prof")
    async def ack_only(ack: AsyncAck) -> None:
        await ack()

    from aiohttp import web

    print("ready", flush=True)
    web.run_app(app.web_app(path="/slack/events"), host="127.0.0.1", port=port, print=None, access_log=None)


def intake(port: int, redis_url: str, key: str, token: str) -> None:
    import redis.asyncio as aioredis
    from aiohttp import web

    client = aioredis.from_url(redis_url)

    async def handle(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {token}":
            return web.Response(status=401)
        body = await request.read()
        json.loads(body)
        await client.lpush(key, body)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/alerts/alertmanager", handle)
    print("ready", flush=True)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def imports(modules: list[str]) -> None:
    for name in modules:
        importlib.import_module(name)
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            print(line.split()[1], flush=True)
    sys.stdin.read()  # until the bench closes it


if __name__ == "__main__":
    kind, *args = sys.argv[1:]
    if kind == "bolt":
        bolt(int(args[0]), args[1])
    elif kind == "intake":
        intake(int(args[0]), args[1], args[2], args[3])
    else:
        imports(args)
