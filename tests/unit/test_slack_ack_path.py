"""What the acknowledgement path leaves out of bolt, and what it must still give it."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.metering import MeteredApp
from tests.rig.slack_requests import command_body


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
