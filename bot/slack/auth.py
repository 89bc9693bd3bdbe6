"""bolt's ``authorize`` for the app's one workspace: one ``auth.test``, then cached."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.web.async_client import AsyncWebClient

from profbot import retry

log = structlog.get_logger("profbot.slack")


class CachedAuthorize:
    """bolt's default single-team authorization calls ``auth.test`` lazily on the first request,
    before the listener can ``ack()``; warming this at start-up keeps Slack off the ack path."""

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

    async def keep_warming(self) -> None:
        """Retry auth.test in the background, so the first request does not pay for it before its ack."""
        await retry.forever(self.warm, on=(Exception,), what="slack_auth_test", initial=5.0, cap=60.0)
        log.info("slack_identity_after_retry")

    def as_bolt_authorize(self) -> Callable[..., Awaitable[AuthorizeResult]]:
        # bolt reads the parameter names of a plain function (a bound method's `self` confuses it).
        async def authorize(team_id: str | None = None) -> AuthorizeResult:
            return await self.warm()

        return authorize
