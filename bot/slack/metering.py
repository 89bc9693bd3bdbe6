"""What Slack asks of profbot and what profbot asks of Slack, counted (profbot/metrics.py).

:class:`MeteredApp` is the bolt app with every request it dispatches counted, over HTTP and Socket
Mode alike: slash commands by subcommand and outcome, the other payloads by kind and outcome, and
the time to the acknowledgement (bolt returns the acknowledgement as dispatching ends: listeners
ack, then hand off to background tasks). :class:`SlackCallMeter` is the first of the Web API
client's retry handlers, which slack_sdk consults after every HTTP attempt of every call, bolt's
own clients' included (they share the handlers): each attempt is counted by method and error, so a
429 that slack_sdk waits out and retries counts as ``ratelimited`` before its retry counts.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.logger import get_bolt_app_logger
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.usecases.commands import DECISION_WORDS, HELP, Unparsed
from profbot.metrics import ACK_SECONDS, INTERACTIONS, SLACK_API_CALLS, SLASH_COMMANDS

# Label values come from these sets only: a forged or odd payload cannot grow the registry.
SUBCOMMANDS = frozenset(HELP) | frozenset(DECISION_WORDS)
INTERACTION_KINDS = frozenset(
    {"block_actions", "view_submission", "view_closed", "shortcut", "message_action", "block_suggestion",
     "event_callback"}
)  # fmt: skip
SLACK_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
METHOD_NAME = re.compile(r"^[a-zA-Z]+(\.[a-zA-Z]+){0,4}$")
REFUSED = "refused"  # set in bolt's context by the access middleware when it refuses (middleware.py)


def subcommand_of(text: str) -> str:
    words = text.split()
    if words and words[0].startswith("/"):  # `/prof health` typed in full
        words = words[1:]
    if not words:
        return "help"
    word = words[0].lower()
    return word if word in SUBCOMMANDS else "unknown"


def outcome_of(context: Any, response: BoltResponse) -> str:
    if context.get(REFUSED):
        return "not_allowed"
    if response.status >= 500:
        return "error"
    if response.status == 404:
        return "unhandled"  # no listener took it
    if isinstance(context.get("parsed"), Unparsed) or _form_errors(response):
        return "bad_input"
    return "ok"


def _form_errors(response: BoltResponse) -> bool:
    """A modal answered with errors (a name typed wrong)."""
    if not isinstance(response.body, str) or "response_action" not in response.body:
        return False
    try:
        return bool(json.loads(response.body).get("response_action") == "errors")
    except (ValueError, AttributeError):
        return False


class MeteredApp(AsyncApp):
    def _init_context(self, req: AsyncBoltRequest) -> None:
        """What bolt puts in every request's context, without its new Web API client per request
        (made in case a listener changes the client's token; profbot's one workspace has one
        token, and its listeners post through the People port). Making one read the proxy settings
        from the environment: a tenth of an acknowledgement's time."""
        req.context["logger"] = get_bolt_app_logger(app_name=self.name, base_logger=self._base_logger)
        req.context["token"] = self._token
        req.context["client"] = self._async_client
        req.context["listener_runner"] = self.listener_runner

    async def async_dispatch(self, req: AsyncBoltRequest) -> BoltResponse:
        started = time.perf_counter()
        response = await super().async_dispatch(req)
        body: dict[str, Any] = req.body if isinstance(req.body, dict) else {}
        outcome = outcome_of(req.context, response)
        if "command" in body:
            kind = "command"
            SLASH_COMMANDS.labels(subcommand_of(str(body.get("text", ""))), outcome).inc()
        else:
            kind = str(body.get("type", ""))
            kind = kind if kind in INTERACTION_KINDS else "other"
            INTERACTIONS.labels(kind, outcome).inc()
        ACK_SECONDS.labels(kind).observe(time.perf_counter() - started)
        return response


class SlackCallMeter(AsyncRetryHandler):
    """Counts every HTTP attempt of a Web API call; never asks for a retry itself (put it first)."""

    def __init__(self, api_url: str) -> None:
        super().__init__(max_retry_count=0)
        self.api_url = api_url if api_url.endswith("/") else api_url + "/"

    def method_of(self, url: str) -> str:
        if not url.startswith(self.api_url):
            return "upload"  # files_upload_v2 sends the bytes to the URL Slack handed out
        method = url.removeprefix(self.api_url).split("?", 1)[0]
        return method if METHOD_NAME.match(method) else "other"

    async def can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        SLACK_API_CALLS.labels(self.method_of(request.url), error_of(response, error)).inc()
        return False


def error_of(response: HttpResponse | None, error: Exception | None) -> str:
    """'' when Slack said ok; 'ratelimited' for a 429; else Slack's error code, or what went wrong."""
    if response is None or error is not None:
        return "connection_error"
    if response.status_code == 429:
        return "ratelimited"
    body = response.body if isinstance(response.body, dict) else {}
    if body.get("ok") is False:
        code = str(body.get("error", ""))
        return code if SLACK_NAME.match(code) else "other"
    if response.status_code >= 400:
        return f"http_{response.status_code}"
    return ""
