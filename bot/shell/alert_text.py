"""Alert threads as the terminal shows them: the parent's state line, alerts joining, resolved."""

from __future__ import annotations

from bot.shell.render import text
from bot.usecases.content import (
    AlertActionFailed,
    AlertFiringAgain,
    AlertNeedsTarget,
    AlertResolved,
    AlertsJoined,
    AlertThread,
)


@text.register
def _alert_thread(content: AlertThread) -> str:
    links = "".join(f"\n  {what}: {url}" for what, url in content.group.links())
    return f"{content.group.status.upper()}: {content.group.alertname} · {content.group.firing_count}{links}"


@text.register
def _joined(content: AlertsJoined) -> str:
    return f"{len(content.alerts)} more alerts firing"


@text.register
def _resolved(content: AlertResolved) -> str:
    return f"Resolved: {content.group.alertname}"


@text.register
def _refiring(content: AlertFiringAgain) -> str:
    return f"Firing again: {content.group.alertname}"


@text.register
def _needs_target(content: AlertNeedsTarget) -> str:
    return f"This alert maps to {content.procedure}, which needs a service: run `{content.usage}`."


@text.register
def _action_failed(content: AlertActionFailed) -> str:
    return f"Could not {content.what}: {content.reason}. Nothing changed."
