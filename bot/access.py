"""Who may do what: operators and approvers from configuration, as bolt middleware.

Everyone may use `help` and `health`. Everything else (diagnoses, buttons, change requests, the
audit) needs an operator; approving or rejecting a destroy needs an approver, which the change
flow checks (bot/changes.py). Roles are Slack user ids and user group ids; a group's members come
from ``usergroups.users.list`` and are cached for a few minutes. When Slack cannot say who is in a
group, its members are treated as outside it (fail closed), keeping the last answer if there is one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import structlog
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages
from bot.audit import AuditLog

log = structlog.get_logger("profbot.access")

GROUP_CACHE_SECONDS = 300.0
PUBLIC_SUBCOMMANDS = frozenset({"", "help", "health"})


class Role(StrEnum):
    OPERATOR = "operator"
    APPROVER = "approver"


@dataclass
class AccessPolicy:
    client: AsyncWebClient
    operators: frozenset[str]
    approvers: frozenset[str]
    cache_seconds: float = GROUP_CACHE_SECONDS
    _groups: dict[str, tuple[float, frozenset[str]]] = field(default_factory=dict)

    async def roles(self, user: str) -> frozenset[Role]:
        roles = set()
        if await self._member(user, self.operators):
            roles.add(Role.OPERATOR)
        if await self._member(user, self.approvers):
            roles.add(Role.APPROVER)
        return frozenset(roles)

    async def _member(self, user: str, principals: frozenset[str]) -> bool:
        if not user:
            return False
        if user in principals:
            return True
        for group in sorted(p for p in principals if p.startswith("S")):
            if user in await self._group_members(group):
                return True
        return False

    async def _group_members(self, group: str) -> frozenset[str]:
        cached = self._groups.get(group)
        if cached is not None and time.monotonic() - cached[0] < self.cache_seconds:
            return cached[1]
        try:
            response = await self.client.usergroups_users_list(usergroup=group)
            members = frozenset(str(u) for u in response.get("users") or [])
        except (SlackApiError, OSError, TimeoutError) as exc:
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else str(exc)
            log.warning("usergroup_unresolved", group=group, error=error)
            return cached[1] if cached is not None else frozenset()
        self._groups[group] = (time.monotonic(), members)
        return members


APPROVER_ACTIONS = frozenset({messages.APPROVE_ACTION, messages.REJECT_ACTION})


def action_of(body: dict[str, Any]) -> str:
    actions = body.get("actions") or [{}]
    return str(actions[0].get("action_id", "")) if isinstance(actions[0], dict) else ""


def subcommand_of(body: dict[str, Any]) -> str:
    words = str(body.get("text", "")).split()
    return words[0].lower() if words else ""


def access_middleware(policy: AccessPolicy, audit: AuditLog) -> Callable[..., Awaitable[BoltResponse | None]]:
    """bolt global middleware: sets ``context["roles"]`` and refuses non-operators early."""

    async def check_access(
        body: dict[str, Any],
        context: Any,
        next: Callable[[], Awaitable[None]],
    ) -> BoltResponse | None:
        user = str(context.user_id or "")
        is_command = "command" in body
        if is_command and subcommand_of(body) in PUBLIC_SUBCOMMANDS:
            context["roles"] = frozenset()
            await next()
            return None
        roles = await policy.roles(user)
        context["roles"] = roles
        # Approvers need not be operators: they may approve or reject (the change flow checks the rest).
        if Role.OPERATOR in roles or (Role.APPROVER in roles and action_of(body) in APPROVER_ACTIONS):
            await next()
            return None
        what = f"`{subcommand_of(body)}`" if is_command else "this button"
        log.info("access_refused", user=user, what=what)
        try:
            await audit.append("refused", actor=user, outcome=f"not an operator: {what}")
        except Exception as exc:  # the refusal stands even when the audit cannot be written
            log.warning("audit_unwritten", error=str(exc))
        text = messages.not_allowed(user, what)
        if is_command:
            return BoltResponse(
                status=200,
                body=json.dumps({"response_type": "ephemeral", "text": text}),
                headers={"content-type": "application/json"},
            )
        response_url = body.get("response_url")
        if response_url:
            await context.respond(response_type="ephemeral", replace_original=False, text=text)
        return BoltResponse(status=200, body="")

    return check_access
