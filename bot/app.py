"""The slack-bolt AsyncApp: listeners are small and delegate to ``bot/commands.py``."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot import changes, diagnoses, messages
from bot.access import access_middleware
from bot.commands import SUBCOMMANDS
from bot.context import BotDeps, Invocation

log = structlog.get_logger("profbot.app")


class CachedAuthorize:
    """bolt's ``authorize``: one ``auth.test`` for the app's single workspace, then cached.

    bolt's default single-team authorization calls ``auth.test`` lazily on the first request,
    before the listener can ``ack()``; warming this at start-up keeps Slack off the ack path.
    """

    def __init__(self, client: AsyncWebClient, bot_token: str) -> None:
        self._client = client
        self._bot_token = bot_token
        self._result: AuthorizeResult | None = None

    async def warm(self) -> AuthorizeResult:
        if self._result is None:
            response = await self._client.auth_test(token=self._bot_token)
            self._result = AuthorizeResult.from_auth_test_response(
                auth_test_response=response, bot_token=self._bot_token
            )
        return self._result

    def as_bolt_authorize(self) -> Callable[..., Awaitable[AuthorizeResult]]:
        # bolt reads the parameter names of a plain function (a bound method's `self` confuses it).
        async def authorize(team_id: str | None = None) -> AuthorizeResult:
            return await self.warm()

        return authorize


def build_app(deps: BotDeps, authorize: CachedAuthorize) -> AsyncApp:
    app = AsyncApp(
        client=deps.client,
        authorize=authorize.as_bolt_authorize(),
        # Signatures are checked once, at the HTTP edge (bot/http.py), before the body is parsed.
        request_verification_enabled=False,
        # Listeners ack and hand off to BackgroundTasks; running them before the HTTP response
        # returns avoids bolt's 10 ms ack-polling loop and its unowned futures.
        process_before_response=True,
        raise_error_for_unhandled_request=False,
    )

    # Who may do what, before any listener: non-operators get help and health only.
    app.use(access_middleware(deps.access, deps.audit))

    @app.command(deps.command)
    async def on_command(
        ack: AsyncAck, respond: AsyncRespond, command: dict[str, Any], logger: Any
    ) -> BoltResponse | None:
        words = str(command.get("text", "")).split()
        name = words[0].lower() if words else "help"
        log.info("command", user=command.get("user_id"), channel=command.get("channel_id"), sub=name[:40])
        inv = Invocation(
            deps=deps,
            user_id=str(command.get("user_id", "")),
            channel_id=str(command.get("channel_id", "")),
            args=words[1:],
            ack=ack,
            respond=respond,
        )
        await SUBCOMMANDS.dispatch(inv, name)
        # With process_before_response, bolt sends what the listener returns, not what ack() set.
        return ack.response

    @app.action(re.compile(r"^remediate:"))
    async def on_remediation(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> BoltResponse | None:
        await ack()
        deps.tasks.spawn(diagnoses.remediation_clicked(deps, body, respond), name="remediation")
        return ack.response

    @app.action(re.compile(r"^change:(confirm|cancel|approve|reject)$"))
    async def on_decision(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: Any, respond: AsyncRespond
    ) -> BoltResponse | None:
        await ack()
        user = str((body.get("user") or {}).get("id", ""))
        flow = changes.ChangeFlow(deps)
        decision = flow.clicked(str(action.get("action_id")), str(action.get("value", ""))[:64], user,
                                context.get("roles") or frozenset(), respond)  # fmt: skip
        deps.tasks.spawn(decision, name="change-decision")
        return ack.response

    @app.view(messages.DESTROY_MODAL)
    async def on_typed_confirmation(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> BoltResponse | None:
        errors = await diagnoses.destroy_submitted(deps, body, view)
        if errors:
            await ack(response_action="errors", errors=errors)
        else:
            await ack()
        return ack.response

    return app
