"""Alertmanager's silences API v2 (prometheus/alertmanager api/v2/openapi.yaml): ``POST
/api/v2/silences``, ``GET`` and ``DELETE /api/v2/silence/{silenceID}``.

The address is the deployment's own (``PROFBOT_ALERTMANAGER_URL``), never a webhook's
``externalURL``: whoever can post a webhook could otherwise send profbot's credentials and the
silence to an Alertmanager of their choosing. Grafana's Alertmanager-compatible API is the same
API under ``/api/alertmanager/grafana/api/v2``: :meth:`AlertmanagerClient.grafana`.

Every failure is mapped here, at one seam, to profbot's errors: no answer or a 5xx is
:class:`~profbot.errors.SilencerUnavailable`, a 4xx :class:`~profbot.errors.SilenceRefused`, with
the status and what Alertmanager said.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError

from bot.usecases.silence_model import Silence, SilenceSpec
from profbot.errors import ConfigError, SilenceRefused, SilencerUnavailable

TIMEOUT_SECONDS = 10.0
MAX_REASON_CHARS = 300
# Alertmanager's silence ids are UUIDs; anything else never goes into a path.
_SILENCE_ID = re.compile(r"^[0-9a-fA-F-]{1,64}$")


def credentials(token_file: Path | None, basic_auth_file: Path | None) -> dict[str, str]:
    """The Authorization header from the configured file (read at start: a missing file stops
    serve with its name, not the first click)."""
    try:
        if token_file is not None:
            return {"Authorization": f"Bearer {token_file.read_text().strip()}"}
        if basic_auth_file is not None:
            user, sep, password = basic_auth_file.read_text().strip().partition(":")
            if not sep:
                raise ConfigError(f"{basic_auth_file} must hold user:password")
            pair = base64.b64encode(f"{user}:{password}".encode()).decode()
            return {"Authorization": f"Basic {pair}"}
    except OSError as exc:
        raise ConfigError(f"cannot read {exc.filename}: {exc.strerror}") from None
    return {}


class AlertmanagerClient:
    def __init__(self, base_url: str, headers: dict[str, str] | None = None, *, api: str = "/api/v2") -> None:
        self.base = base_url.rstrip("/") + api
        self.client = httpx.AsyncClient(
            headers=headers or {}, timeout=TIMEOUT_SECONDS, follow_redirects=False, trust_env=False
        )

    @classmethod
    def grafana(cls, grafana_url: str, headers: dict[str, str] | None = None) -> AlertmanagerClient:
        return cls(grafana_url, headers, api="/api/alertmanager/grafana/api/v2")

    async def aclose(self) -> None:
        await self.client.aclose()

    async def create(self, spec: SilenceSpec) -> str:
        body = spec.model_dump(mode="json", exclude_none=True)
        answer = await self._call("POST", "/silences", json=body)
        silence_id = answer.get("silenceID") if isinstance(answer, dict) else None
        if not isinstance(silence_id, str) or not _SILENCE_ID.match(silence_id):
            raise SilencerUnavailable(f"Alertmanager answered without a silence id: {str(answer)[:MAX_REASON_CHARS]}")
        return silence_id

    async def get(self, silence_id: str) -> Silence | None:
        if not _SILENCE_ID.match(silence_id):
            return None
        try:
            answer = await self._call("GET", f"/silence/{silence_id}")
        except SilenceRefused as exc:
            if exc.status == 404:
                return None
            raise
        if not isinstance(answer, dict):
            raise SilencerUnavailable(f"Alertmanager answered without a silence: {str(answer)[:MAX_REASON_CHARS]}")
        status = answer.get("status")  # gettableSilence: {"status": {"state": ...}}
        try:
            return Silence.model_validate(
                {**answer, "state": status.get("state") if isinstance(status, dict) else None}
            )
        except ValidationError as exc:
            raise SilencerUnavailable(f"Alertmanager's silence could not be read: {exc.errors()[0]['msg']}") from None

    async def expire(self, silence_id: str) -> None:
        if not _SILENCE_ID.match(silence_id):
            raise SilenceRefused(f"not a silence id: {silence_id[:80]!r}")
        await self._call("DELETE", f"/silence/{silence_id}")

    async def _call(self, method: str, path: str, json: Any = None) -> Any:
        try:
            response = await self.client.request(method, self.base + path, json=json)
        except httpx.HTTPError as exc:
            raise SilencerUnavailable(
                f"Alertmanager did not answer ({type(exc).__name__}: {exc})"[:MAX_REASON_CHARS]
            ) from None
        if response.status_code >= 300:
            said = " ".join(response.text.split())[:MAX_REASON_CHARS] or response.reason_phrase
            reason = f"Alertmanager answered {response.status_code}: {said}"
            if 400 <= response.status_code < 500:
                raise SilenceRefused(reason, response.status_code)
            raise SilencerUnavailable(reason)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise SilencerUnavailable(f"Alertmanager answered {response.status_code} without JSON") from None
