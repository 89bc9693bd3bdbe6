"""The audit: the latest events for an operator, and each event as mirrored to a channel."""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from bot.slack.render.blocks import MAX_SECTION_TEXT, Message, at, clip, escape, header, mention, section
from bot.slack.render.dispatch import render
from bot.usecases.content import AuditEntry, AuditListing
from profbot.audit import AuditEvent


def audit_line(event: AuditEvent) -> str:
    what = " ".join(escape(v) for v in (event.procedure, event.action, event.target) if v)
    host = f" on `{event.host}`" if event.host else ""
    request = f" `{event.request_id[:12]}`" if event.request_id else ""
    outcome = f": {escape(event.outcome)}" if event.outcome else ""
    return clip(f"{at(event.at)} *{event.kind.value}* by {mention(event.actor)} {what}{host}{request}{outcome}", 600)


def audit_sections(events: list[AuditEvent]) -> list[Block]:
    """The events' lines, as few sections as fit Slack's section text limit."""
    blocks: list[Block] = []
    chunk: list[str] = []
    for line in (audit_line(e) for e in events):
        if sum(len(x) + 1 for x in chunk) + len(line) > MAX_SECTION_TEXT - 10:
            blocks.append(section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    if chunk:
        blocks.append(section("\n".join(chunk)))
    return blocks


@render.register
def _listing(content: AuditListing) -> Message:
    events = content.events
    if not events:
        return Message.of("The audit log is empty.")
    blocks: list[Block] = [header(f"Audit: the latest {len(events)} events"), *audit_sections(events)]
    return Message(text=f"Audit: the latest {len(events)} events", blocks=blocks)


@render.register
def _entry(content: AuditEntry) -> Message:
    return Message.of(f":scroll: {audit_line(content.event)}")
