"""A stand-in for Slack's Web API, answering like Slack does, recording every call.

- ``POST /api/<method>``: form or JSON bodies, token from ``Authorization: Bearer`` or ``token``.
  A wrong token answers ``invalid_auth``; an unknown channel ``channel_not_found``; blocks over
  Block Kit's limits ``invalid_blocks``; a queued failure (``rate_limit_next``, ``fail_next``) a 429
  with ``Retry-After`` or a 5xx.
- ``POST /response/<id>``: ``response_url`` posts, recorded the same way.
- ``views.open`` checks the trigger id and the modal's limits; ``usergroups.users.list`` (a GET,
  as slack_sdk sends it) answers the members set in ``usergroups``, ``no_such_subteam`` otherwise.
- A channel in ``not_member_of`` exists but the bot is not in it: posts, updates and its history
  answer ``not_in_channel`` (moving it to ``channels`` is inviting the bot).
- ``channel_rate_limit``: writes per channel and second beyond it get 429 with ``Retry-After: 1``.
- Files as ``files_upload_v2`` sends them: ``files.getUploadURLExternal`` (filename, length) hands
  out an ``upload_url`` back at this server; ``POST /upload/<file id>`` takes the bytes;
  ``files.completeUploadExternal`` shares the uploaded files in ``channel_id`` (``thread_ts``).
  ``uploads`` lists what was shared, with the bytes.
- Messages are kept per channel, with their ``metadata`` (``event_type`` and ``event_payload``):
  ``conversations.history`` answers a channel's messages (not thread replies) newest first within
  ``oldest``/``latest`` (``inclusive``), ``limit`` at a time (at most ``history_limit``, Slack's 15
  for non-Marketplace apps) with ``has_more`` and a ``next_cursor``, their metadata
  only with ``include_all_metadata``, and needs ``channels:history`` (``groups:history``);
  ``chat.getPermalink`` answers a kept message's permalink.
- ``after_next(method, hook)``: ``hook(call)`` runs once, after the next successful call to
  ``method`` is answered and before the answer is sent (a fault between Slack and what follows).
- ``views.publish``: App Home tabs, recorded in ``homes`` (tests/rig/slack_views.py).
- ``chat.postMessage`` to a user's id writes in the app's Messages tab with them, as Slack does.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.rig.slack_views import HomeViews

DEFAULT_TOKEN = "xoxb-profbot-test-token"
APP_TOKEN = "xapp-1-profbot-test-app-token"
# The bot scopes the manifests ask for, granted unless a test takes some away.
GRANTED_SCOPES = [
    "commands", "chat:write", "files:write", "usergroups:read", "channels:read", "groups:read", "channels:history",
    "groups:history",
]  # fmt: skip
DEFAULT_CHANNEL = "C0PROFOPS"
TEAM_ID = "T0PROFBOT"
BOT_USER_ID = "U0PROFBOT"

# Block Kit limits (slack-platform.md): what real Slack refuses with invalid_blocks.
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_SECTION_FIELDS = 10
MAX_ACTIONS_ELEMENTS = 25
KNOWN_BLOCKS = {"section", "header", "context", "divider", "actions", "input", "image", "rich_text", "file"}


@dataclass
class Upload:
    file_id: str
    filename: str
    length: int
    alt_txt: str
    data: bytes = b""
    title: str = ""
    channel: str = ""
    thread_ts: str | None = None
    shared: bool = False


@dataclass
class Call:
    method: str  # "chat.postMessage", ... or "response_url"
    body: dict[str, Any]
    headers: dict[str, str]
    at: float = field(default_factory=time.time)
    status: int = 200
    answer: dict[str, Any] = field(default_factory=dict)
    name: str = ""  # a response_url's name (the last part of its path)


def block_errors(blocks: Any, max_blocks: int = MAX_BLOCKS) -> list[str]:
    """Why Slack would refuse these blocks (a message's: 50 at most); empty when they are valid."""
    if not isinstance(blocks, list):
        return ["blocks must be an array"]
    errors = []
    if len(blocks) > max_blocks:
        errors.append(f"more than {max_blocks} blocks ({len(blocks)})")
    for i, block in enumerate(blocks):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind not in KNOWN_BLOCKS:
            errors.append(f"block {i}: unknown type {kind!r}")
            continue
        text = block.get("text") or {}
        if kind == "section":
            if not text.get("text") and not block.get("fields"):
                errors.append(f"block {i}: section without text or fields")
            if len(text.get("text", "")) > MAX_SECTION_TEXT:
                errors.append(f"block {i}: section text over {MAX_SECTION_TEXT} characters")
            if len(block.get("fields") or []) > MAX_SECTION_FIELDS:
                errors.append(f"block {i}: more than {MAX_SECTION_FIELDS} fields")
        elif kind == "header":
            if text.get("type") != "plain_text":
                errors.append(f"block {i}: header text must be plain_text")
            if len(text.get("text", "")) > MAX_HEADER_TEXT:
                errors.append(f"block {i}: header text over {MAX_HEADER_TEXT} characters")
        elif kind == "context":
            if not 0 < len(block.get("elements") or []) <= MAX_CONTEXT_ELEMENTS:
                errors.append(f"block {i}: context needs 1 to {MAX_CONTEXT_ELEMENTS} elements")
        elif kind == "actions" and not 0 < len(block.get("elements") or []) <= MAX_ACTIONS_ELEMENTS:
            errors.append(f"block {i}: actions needs 1 to {MAX_ACTIONS_ELEMENTS} elements")
    return errors


class SlackStandIn:
    def __init__(self, token: str = DEFAULT_TOKEN, channels: set[str] | None = None) -> None:
        self.token = token
        self.channels = set(channels or {DEFAULT_CHANNEL})
        self.calls: list[Call] = []
        self.usergroups: dict[str, list[str]] = {}
        self.app_token = APP_TOKEN
        self.scopes = list(GRANTED_SCOPES)
        self.not_member_of: set[str] = set()  # channels that exist but the bot was not invited to
        self.socket_url: str | None = None  # what apps.connections.open hands out (a Socket Mode stand-in)
        # Writes per second per channel before Slack answers 429 (None: no limit), as chat.postMessage's
        # "about one message per second per channel, short bursts allowed".
        self.channel_rate_limit: int | None = None
        # conversations.history's most messages a call: 15 for apps outside the Marketplace (created
        # after May 2025), as profbot is; 999 for Marketplace apps.
        self.history_limit = 15
        self._channel_writes: dict[str, list[float]] = {}
        self._files: dict[str, Upload] = {}
        self.messages: dict[str, list[dict[str, Any]]] = {}  # channel -> its messages, oldest first
        self._after: dict[str, list[Callable[[Call], None]]] = {}
        self._queued: dict[str, list[tuple[int, dict[str, Any], dict[str, str]]]] = {}
        self._lock = threading.Lock()
        self._ts = 1_764_000_000_000_100
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.homes = HomeViews(block_errors)  # App Home tabs published

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str = "r1") -> str:
        return f"http://127.0.0.1:{self.port}/response/{name}"

    def start(self) -> SlackStandIn:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ------------------------------------------------------------------ scripting failures

    def rate_limit_next(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        body = {"ok": False, "error": "ratelimited"}
        with self._lock:
            self._queued.setdefault(method, []).extend([(429, body, {"Retry-After": str(retry_after)})] * times)

    def after_next(self, method: str, hook: Callable[[Call], None]) -> None:
        with self._lock:
            self._after.setdefault(method, []).append(hook)

    def fail_next(self, method: str, status: int = 500, times: int = 1) -> None:
        body = {"ok": False, "error": "internal_error"}
        with self._lock:
            self._queued.setdefault(method, []).extend([(status, body, {})] * times)

    # ------------------------------------------------------------------ reading what happened

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 15.0) -> list[Call]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.calls_to(method)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"{count} call(s) to {method} expected within {timeout}s, saw {self.calls_to(method)}")

    def said(self, name: str, timeout: float = 30.0) -> str:
        """The text of the first post to response_url ``name``, once it arrives."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for call in self.calls_to("response_url"):
                if call.name == name:
                    return str(call.body.get("text", ""))
            time.sleep(0.02)
        raise AssertionError(f"nothing was posted to response_url {name!r} within {timeout}s")

    @property
    def uploads(self) -> list[Upload]:
        """The files shared in a channel (completed), in order."""
        with self._lock:
            return [u for u in self._files.values() if u.shared]

    def wait_for_uploads(self, count: int = 1, timeout: float = 30.0) -> list[Upload]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.uploads) >= count:
                return self.uploads
            time.sleep(0.05)
        raise AssertionError(f"{count} upload(s) expected within {timeout}s, saw {len(self.uploads)}")

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()
            self._queued.clear()

    # ------------------------------------------------------------------ answering

    def _answer(
        self, method: str, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._lock:
            queued = self._queued.get(method)
            if queued:
                return queued.pop(0)
        if method == "response_url":
            return 200, {"ok": True}, {}
        auth = headers.get("authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else body.get("token")
        if method == "apps.connections.open":  # the one method called with the app-level token
            if token != self.app_token:
                return 200, {"ok": False, "error": "not_authed" if not token else "invalid_auth"}, {}
            if self.socket_url is None:
                return 200, {"ok": False, "error": "not_allowed_token_type"}, {}
            return 200, {"ok": True, "url": self.socket_url}, {}
        if token != self.token:
            return 200, {"ok": False, "error": "not_authed" if not token else "invalid_auth"}, {}
        if method == "auth.test":
            return 200, {
                "ok": True, "url": "https://profbot-test.slack.com/", "team": "profbot test",
                "user": "profbot", "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": "B0PROFBOT",
            }, {"x-oauth-scopes": ",".join(self.scopes)}  # fmt: skip
        if method == "conversations.info":
            channel = body.get("channel")
            if channel not in self.channels and channel not in self.not_member_of:
                return 200, {"ok": False, "error": "channel_not_found"}, {}
            info = {"id": channel, "name": f"chan-{str(channel).lower()}", "is_member": channel in self.channels}
            return 200, {"ok": True, "channel": info}, {}
        if method in ("chat.postMessage", "chat.postEphemeral", "chat.update"):
            channel = body.get("channel")
            personal = method == "chat.postMessage" and str(channel)[:1] in ("U", "W")  # the app's Messages tab
            if channel not in self.channels and not personal:
                error = "not_in_channel" if channel in self.not_member_of else "channel_not_found"
                return 200, {"ok": False, "error": error}, {}
            if self._over_channel_rate(str(channel)):
                return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"}
            blocks = body.get("blocks")
            if isinstance(blocks, str):
                blocks = json.loads(blocks)
            if blocks is not None:
                errors = block_errors(blocks)
                if errors:
                    return 200, {"ok": False, "error": "invalid_blocks", "errors": errors}, {}
            elif not body.get("text"):
                return 200, {"ok": False, "error": "no_text"}, {}
            metadata = body.get("metadata")
            if isinstance(metadata, str):
                metadata = json.loads(metadata)
            if metadata is not None and not (
                isinstance(metadata, dict) and isinstance(metadata.get("event_type"), str)
                and isinstance(metadata.get("event_payload"), dict)
            ):  # fmt: skip
                return 200, {"ok": False, "error": "invalid_metadata_format"}, {}
            with self._lock:
                # A message's ts is the time it was posted, in microseconds, unique in the channel.
                self._ts = max(self._ts + 100, int(time.time() * 1_000_000))
                ts = f"{self._ts // 1_000_000}.{self._ts % 1_000_000:06d}"
            if method == "chat.postEphemeral":
                return 200, {"ok": True, "message_ts": ts}, {}
            self._keep(method, str(channel), body, ts, blocks, metadata)
            return 200, {"ok": True, "channel": channel, "ts": body.get("ts", ts), "message": body}, {}
        if method == "conversations.history":
            return self._history(body)
        if method == "chat.getPermalink":
            return self._permalink(body)
        if method == "views.open":
            return self._views_open(body)
        if method == "views.publish":
            return self.homes.publish(body)
        if method == "files.getUploadURLExternal":
            return self._upload_url(body)
        if method == "files.completeUploadExternal":
            return self._complete_upload(body)
        if method == "usergroups.users.list":
            group = body.get("usergroup")
            if group not in self.usergroups:
                return 200, {"ok": False, "error": "no_such_subteam"}, {}
            return 200, {"ok": True, "users": list(self.usergroups[group])}, {}
        return 200, {"ok": False, "error": "unknown_method"}, {}

    def _keep(self, method: str, channel: str, body: dict[str, Any], ts: str, blocks: Any, metadata: Any) -> None:
        with self._lock:
            kept = self.messages.setdefault(channel, [])
            if method == "chat.update":
                for message in kept:
                    if message["ts"] == body.get("ts"):
                        message.update(text=body.get("text", ""), blocks=blocks or [])
                return
            message = {"type": "message", "user": BOT_USER_ID, "bot_id": "B0PROFBOT", "ts": ts,
                       "text": body.get("text", ""), "blocks": blocks or []}  # fmt: skip
            if body.get("thread_ts"):
                message.update(thread_ts=body["thread_ts"], parent_user_id=BOT_USER_ID)
            if metadata is not None:
                message["metadata"] = metadata
            kept.append(message)

    def _history(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        channel = str(body.get("channel") or "")
        if channel not in self.channels:
            error = "not_in_channel" if channel in self.not_member_of else "channel_not_found"
            return 200, {"ok": False, "error": error}, {}
        needed = "groups:history" if channel.startswith("G") else "channels:history"
        if needed not in self.scopes:
            return 200, {"ok": False, "error": "missing_scope", "needed": needed}, {}
        # As Slack: latest defaults to now, both bounds exclusive unless ``inclusive``; ``limit``
        # defaults to and is capped at the history limit (15 for apps outside the Marketplace).
        oldest, latest = float(body.get("oldest") or 0), float(body.get("latest") or time.time())
        inclusive = str(body.get("inclusive", "")).lower() in ("1", "true")
        limit = min(max(int(body.get("limit") or self.history_limit), 1), self.history_limit)
        with_metadata = str(body.get("include_all_metadata", "")).lower() in ("1", "true")
        cursor = str(body.get("cursor") or "")

        def within(ts: float) -> bool:
            return oldest <= ts <= latest if inclusive else oldest < ts < latest

        with self._lock:
            shown = [dict(m) for m in reversed(self.messages.get(channel, []))
                     if "parent_user_id" not in m and within(float(m["ts"]))]  # fmt: skip
        if cursor:  # opaque to the caller: the ts to go on below
            shown = [m for m in shown if float(m["ts"]) < float(cursor.removeprefix("next_ts:"))]
        page, rest = shown[:limit], shown[limit:]
        for message in page:
            if not with_metadata:
                message.pop("metadata", None)
        answer: dict[str, Any] = {"ok": True, "messages": page, "has_more": bool(rest), "pin_count": 0}
        if rest:
            answer["response_metadata"] = {"next_cursor": f"next_ts:{page[-1]['ts']}"}
        return 200, answer, {}

    def _permalink(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        channel, ts = str(body.get("channel") or ""), str(body.get("message_ts") or "")
        if channel not in self.channels:
            return 200, {"ok": False, "error": "channel_not_found"}, {}
        with self._lock:
            if not any(m["ts"] == ts for m in self.messages.get(channel, [])):
                return 200, {"ok": False, "error": "message_not_found"}, {}
        link = f"https://profbot-test.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        return 200, {"ok": True, "channel": channel, "permalink": link}, {}

    def _over_channel_rate(self, channel: str) -> bool:
        if self.channel_rate_limit is None:
            return False
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._channel_writes.get(channel, []) if now - t < 1.0]
            if len(recent) >= self.channel_rate_limit:
                self._channel_writes[channel] = recent
                return True
            self._channel_writes[channel] = [*recent, now]
        return False

    def _upload_url(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        length = str(body.get("length") or "")
        if not body.get("filename") or not length.isdigit() or int(length) <= 0:
            return 200, {"ok": False, "error": "invalid_arguments"}, {}
        with self._lock:
            self._ts += 1
            file_id = f"F{self._ts}"
            self._files[file_id] = Upload(file_id, str(body["filename"]), int(length), str(body.get("alt_txt") or ""))
        return 200, {"ok": True, "upload_url": f"http://127.0.0.1:{self.port}/upload/{file_id}", "file_id": file_id}, {}

    def _receive_upload(self, file_id: str, data: bytes) -> int:
        with self._lock:
            upload = self._files.get(file_id)
            if upload is None:
                return 404
            upload.data = data
        return 200

    def _complete_upload(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        files = body.get("files")
        if isinstance(files, str):
            files = json.loads(files)
        channel = body.get("channel_id")
        if channel is not None and channel not in self.channels:
            error = "not_in_channel" if channel in self.not_member_of else "channel_not_found"
            return 200, {"ok": False, "error": error}, {}
        shared = []
        with self._lock:
            for item in files or []:
                upload = self._files.get(str(item.get("id")))
                if upload is None or not upload.data:
                    return 200, {"ok": False, "error": "file_not_found"}, {}
                upload.title = str(item.get("title") or upload.filename)
                upload.channel = str(channel or "")
                upload.thread_ts = body.get("thread_ts")
                upload.shared = True
                shared.append({"id": upload.file_id, "name": upload.filename, "title": upload.title})
        if not shared:
            return 200, {"ok": False, "error": "invalid_arguments"}, {}
        return 200, {"ok": True, "files": shared}, {}

    def _views_open(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        if not body.get("trigger_id"):
            return 200, {"ok": False, "error": "invalid_trigger_id"}, {}
        view = body.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        if not isinstance(view, dict) or view.get("type") != "modal":
            return 200, {"ok": False, "error": "invalid_arguments"}, {}
        problems = block_errors(view.get("blocks") or [])
        if len((view.get("title") or {}).get("text", "")) > 24:
            problems.append("title over 24 characters")
        if len(view.get("private_metadata") or "") > 3000:
            problems.append("private_metadata over 3000 characters")
        if len(view.get("blocks") or []) > 100:
            problems.append("more than 100 blocks")
        if problems:
            return 200, {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": problems}}, {}
        with self._lock:
            self._ts += 1
            view_id = f"V{self._ts}"
        return 200, {"ok": True, "view": {**view, "id": view_id}}, {}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as Slack's API servers do

            def do_GET(self) -> None:
                if self.path.startswith("/api/"):
                    url = urlsplit(self.path)
                    method = url.path.removeprefix("/api/")
                    body = {k: v[0] for k, v in parse_qs(url.query).items()}
                    self._reply(method, body, {k.lower(): v for k, v in self.headers.items()})
                    return
                # /_count/<method>: how many calls were recorded, for a stand-in in another process
                if not self.path.startswith("/_count/"):
                    self.send_error(404)
                    return
                data = str(len(standin.calls_to(self.path.removeprefix("/_count/")))).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                if self.path.startswith("/upload/"):  # an upload_url: the bytes, not a Web API call
                    status = standin._receive_upload(self.path.removeprefix("/upload/"), raw)
                    data = f"OK - {len(raw)}".encode() if status == 200 else b"not found"
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                query: dict[str, Any] = {}
                if self.path.startswith("/api/"):
                    url = urlsplit(self.path)
                    method = url.path.removeprefix("/api/")
                    # slack_sdk sends some methods' arguments in the query string (files.getUploadURLExternal)
                    query = {k: v[0] for k, v in parse_qs(url.query).items()}
                elif self.path.startswith("/response/"):
                    method = "response_url"
                    headers["x-response-name"] = self.path.removeprefix("/response/")
                else:
                    self.send_error(404)
                    return
                if headers.get("content-type", "").startswith("application/json"):
                    body = json.loads(raw or b"{}")
                else:
                    body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                self._reply(method, {**query, **body}, headers)

            def _reply(self, method: str, body: dict[str, Any], headers: dict[str, str]) -> None:
                status, answer, extra = standin._answer(method, body, headers)
                call = Call(
                    method, body, headers, status=status, answer=answer, name=headers.get("x-response-name", "")
                )
                with standin._lock:
                    standin.calls.append(call)
                    hooks = standin._after.get(method) if answer.get("ok") else None
                    hook = hooks.pop(0) if hooks else None
                if hook is not None:
                    hook(call)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in extra.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: Any) -> None:
                pass

        return Handler


if __name__ == "__main__":
    # A stand-in in a process of its own (benchmarks): prints its port, serves until killed.
    import sys

    server = SlackStandIn().start()
    print(server.port, flush=True)
    sys.stdin.read()
