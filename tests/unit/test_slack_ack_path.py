"""What the acknowledgement path leaves out of bolt, and what it must still give it."""

from __future__ import annotations

import inspect
import logging

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient

from bot.shell.people import TerminalPeople
from bot.slack.app import build_app
from bot.slack.auth import CachedAuthorize
from bot.slack.metering import MeteredApp
from profbot import logs
from profbot.aio import BackgroundTasks
from profbot.logs import OWN_LOGGERS
from tests.rig.slack_requests import command_body
from tests.unit.world import make_world


async def test_a_requests_context_holds_what_bolts_own_would_with_the_apps_one_client() -> None:
    client = AsyncWebClient(token="xoxb-test")

    async def authorize() -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=None, team_id="T0TEAM", bot_token="xoxb-test")

    app = MeteredApp(client=client, authorize=authorize, request_verification_enabled=False)
    body = command_body("health", response_url="http://example.invalid/r")
    ours, bolts = AsyncBoltRequest(body=body), AsyncBoltRequest(body=body)
    app._init_context(ours)
    AsyncApp._init_context(app, bolts)
    assert set(ours.context) == set(bolts.context)  # a bolt upgrade adding to it fails here
    assert ours.context.client is client  # not a new client per request
    assert ours.context.logger.name == bolts.context.logger.name


async def test_the_bolt_internals_the_ack_path_replaces_are_where_it_reads_them() -> None:
    """MeteredApp replaces bolt's private ``AsyncApp._init_context``, which ``async_dispatch``
    calls, and reads bolt's private ``_base_logger``, ``_token`` and ``_async_client``. pyproject.toml
    pins slack-bolt to the minor range this was tested on; a bolt that renames or moves any of
    them fails here, before a Slack request meets an AttributeError."""
    client = AsyncWebClient(token="xoxb-test")

    async def authorize() -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=None, team_id="T0TEAM", bot_token="xoxb-test")

    app = AsyncApp(client=client, authorize=authorize, request_verification_enabled=False)
    missing = [
        name for name in ("_base_logger", "_token", "_async_client", "listener_runner") if not hasattr(app, name)
    ]
    assert missing == []
    assert app._async_client is client
    assert "_init_context" in AsyncApp.__dict__
    assert "self._init_context(" in inspect.getsource(AsyncApp.async_dispatch)


async def test_a_slack_request_leaves_profbots_own_log_level_as_configured() -> None:
    """bolt sets its app logger's level to the root's on every request: named after profbot's
    own loggers, the app would silence their info lines (and the audit's) after the first one."""
    own, root = logging.getLogger(OWN_LOGGERS), logging.getLogger()
    before = own.level, root.level
    try:
        logs.configure("info")
        client = AsyncWebClient(token="xoxb-test")
        profbot = make_world().front_end(TerminalPeople(lambda line: None))
        app = build_app(profbot, client, CachedAuthorize(client, "xoxb-test"), BackgroundTasks(), "/prof")
        app._init_context(AsyncBoltRequest(body=command_body("health", response_url="http://example.invalid/r")))
        assert own.getEffectiveLevel() == logging.INFO
    finally:
        own.setLevel(before[0])
        root.setLevel(before[1])
