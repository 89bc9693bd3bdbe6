"""Alert threads: an incident's first message (edited in place, linking the previous incident's
thread), alerts joining, resolved, and, in the previous thread, that the group fires again."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement

from bot.slack import action_ids
from bot.slack.render.blocks import MAX_HEADER_TEXT, Message, at, clip, context, escape, header, link, mention, section
from bot.slack.render.dispatch import render
from bot.usecases.alert_model import Alert, AlertGroup
from bot.usecases.alert_state import state_line
from bot.usecases.content import (
    AlertActionFailed,
    AlertFiringAgain,
    AlertNeedsTarget,
    AlertResolved,
    AlertsJoined,
    AlertThread,
)

MAX_INSTANCES_SHOWN = 10


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes}m {secs}s" if hours else (f"{minutes}m {secs}s" if minutes else f"{secs}s")


def _alert_line(group: AlertGroup, alert: Alert) -> str:
    summary = alert.annotations.get("summary", "")
    return f"`{escape(group.name_of(alert))}` {escape(summary)}".strip()[:240]  # ten of them fit a section


def _lasted(group: AlertGroup) -> str:
    return _duration(group.lasted_seconds(time.time()))


@render.register
def _thread(content: AlertThread) -> Message:
    group, procedure = content.group, content.procedure
    firing = group.status == "firing"
    icon = ":red_circle:" if firing else ":white_check_mark:"
    labels = {**group.common_labels, **group.group_labels}
    severity = labels.get("severity", "unknown")
    state = "FIRING" if firing else "RESOLVED"
    title = f"{icon} {state}: {group.alertname}"  # a header is plain text: nothing in it is markup
    alerts = sorted(group.alerts.values(), key=lambda a: a.identity)
    shown = group.firing if firing and group.firing else alerts
    lines = [_alert_line(group, a) for a in shown[:MAX_INSTANCES_SHOWN]]
    if len(shown) > MAX_INSTANCES_SHOWN:
        lines.append(f"_and {len(shown) - MAX_INSTANCES_SHOWN} more_")
    summary = group.common_annotations.get("summary") or (alerts[0].annotations.get("summary", "") if alerts else "")
    first = alerts[0] if alerts else None
    links = [
        link(group.runbook_url or "", "runbook"),
        link(first.generatorURL, "source") if first else None,
        link(first.silenceURL, "silence") if first and first.silenceURL else None,
        link(group.silence_url or "", "silence"),  # Alertmanager's form, prefilled with the group's matchers
        link(first.dashboardURL, "dashboard") if first and first.dashboardURL else None,
        link(first.panelURL, "panel") if first and first.panelURL else None,
    ]
    body = f"*{escape(clip(summary, 500))}*\n" if summary else ""  # a long summary must not hide the instances
    body += f"severity `{escape(severity)}` · {group.firing_count}\n"
    body += "\n".join(lines)
    state = state_line(content, time.time(), mention, lambda t: f"{datetime.fromtimestamp(t, UTC):%H:%M} UTC")
    blocks: list[Block] = [header(clip(title, MAX_HEADER_TEXT)), context(state), section(body)]
    link_text = " · ".join(made for made in links if made)
    if link_text:
        blocks.append(context(link_text))
    timing = (
        f"first seen {at(group.first_seen)} · last seen {at(group.last_seen)} · {group.notifications} notifications"
    )
    if not firing and group.resolved_at:
        timing += f" · resolved after {_lasted(group)}"
    runbook = f" · runbook {procedure}: diagnosis in the thread" if procedure else ""
    blocks.append(context(f"{timing} · {group.source}{runbook}"))
    blocks.extend(_buttons(content))
    if group.previous_thread_ts is not None:
        previous = link(group.previous_link or "", "previous incident's thread") or "previous incident's thread"
        blocks.append(context(f":repeat: incident {group.incident} of this group: fired again after it resolved, "
                              f"see the {previous}"))  # fmt: skip
        text = f"{state}: {escape(group.alertname)} ({escape(severity)}), fired again: {previous}"
        return Message(text=text, blocks=blocks)
    return Message(text=f"{state}: {escape(group.alertname)} ({escape(severity)})", blocks=blocks)


@render.register
def _joined(content: AlertsJoined) -> Message:
    alerts = content.alerts
    lines = [_alert_line(content.group, a) for a in alerts[:MAX_INSTANCES_SHOWN]]
    if len(alerts) > MAX_INSTANCES_SHOWN:
        lines.append(f"_and {len(alerts) - MAX_INSTANCES_SHOWN} more_")
    text = f":heavy_plus_sign: {len(alerts)} more alert{'s' if len(alerts) > 1 else ''} firing in this group:"
    return Message(text=text, blocks=[section(text + "\n" + "\n".join(lines))])


@render.register
def _resolved(content: AlertResolved) -> Message:
    return Message.of(
        f":white_check_mark: Resolved: {escape(content.group.alertname)}, after {_lasted(content.group)}."
    )


@render.register
def _refiring(content: AlertFiringAgain) -> Message:
    return Message.of(
        f":red_circle: Firing again: {escape(content.group.alertname)}. This is a new incident, "
        f"in a new thread in this channel."
    )


@render.register
def _needs_target(content: AlertNeedsTarget) -> Message:
    return Message.of(
        f":information_source: This alert maps to {content.procedure}, which needs a service: the alert has no "
        f"`service`, `service_name` or `container` label. Run `/prof {content.usage}` by hand."
    )


@render.register
def _action_failed(content: AlertActionFailed) -> Message:
    return Message.of(f":warning: Could not {content.what}: {escape(content.reason)}. The thread is unchanged.")


def _buttons(content: AlertThread) -> list[Block]:
    """Silence (or extend and expire the thread's silence) and who is on it; why there is no
    silence when the group cannot have one from here."""
    group, gid = content.group, content.group.id
    buttons: list[ButtonElement] = []
    silenced = content.silence is not None and content.silence.state in ("active", "pending", "unknown")
    if content.silencing is None and silenced:
        buttons += [ButtonElement(text="Extend 1 h", action_id=action_ids.ALERT_EXTEND, value=gid),
                    ButtonElement(text="Expire silence", action_id=action_ids.ALERT_EXPIRE, value=gid)]  # fmt: skip
    elif content.silencing is None and group.status == "firing":
        buttons += [ButtonElement(text=f"Silence {h} h", action_id=f"{action_ids.ALERT_SILENCE}{h}", value=gid)
                    for h in (1, 4, 24)]  # fmt: skip
    if group.status == "firing":
        acked = content.acked_by is not None
        which = action_ids.ALERT_RELEASE if acked else action_ids.ALERT_ACK
        buttons.append(ButtonElement(text="Release" if acked else "I'm on it", value=gid, action_id=which))
    blocks: list[Block] = [ActionsBlock(elements=buttons)] if buttons else []
    if content.silencing is not None and group.status == "firing":
        blocks.append(context(f"No silence from here: {escape(content.silencing)}"))
    return blocks
