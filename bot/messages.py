"""Every text a Slack user sees, and the Block Kit that carries it.

Built with slack_sdk's model classes. slack_sdk does not check every Block Kit limit in
``to_dict()`` (not the 50-block or the 3000-character section limit, see
``../shared/reference/slack-platform.md``), so :class:`Message` enforces them itself: an over-long
text is cut and the cut is said, never refused by Slack as ``invalid_blocks``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from handlers.findings import Evidence, Remediation, Report, Severity
from profbot.bus import RunnerInfo
from profbot.ops import Freshness, OpKind

# Block Kit limits (Slack's docs, "Block Kit" reference; slack-platform.md).
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_MESSAGE_TEXT = 40_000
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ACTIONS_ELEMENTS = 25

ICON = {
    Severity.OK: ":white_check_mark:",
    Severity.INFO: ":information_source:",
    Severity.WARNING: ":warning:",
    Severity.CRITICAL: ":red_circle:",
}


def clip(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    # The suffix is sized for the largest count it could show, so the result always fits.
    keep = limit - len(f"… ({len(text)} more characters cut)")
    return f"{text[:keep]}… ({len(text) - keep} more characters cut)"


def escape(text: str) -> str:
    """Slack's control characters in text that came from a container or a runner: a healthcheck
    printing `<!channel>` must not ping a channel, nor `<http://x|fix>` pass for a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=clip(text, MAX_SECTION_TEXT)))


def header(text: str) -> HeaderBlock:
    return HeaderBlock(text=clip(text, MAX_HEADER_TEXT))


def context(*texts: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=clip(t, 2000)) for t in texts[:MAX_CONTEXT_ELEMENTS]])


@dataclass
class Message:
    text: str  # the notification and screen-reader text; also what clients without blocks show
    blocks: list[Block] = field(default_factory=list)

    def as_kwargs(self) -> dict[str, Any]:
        blocks = list(self.blocks)
        if len(blocks) > MAX_BLOCKS:
            dropped = len(blocks) - (MAX_BLOCKS - 1)
            blocks = [*blocks[: MAX_BLOCKS - 1], context(f"_{dropped} more blocks not shown_")]
        return {"text": clip(self.text, MAX_MESSAGE_TEXT), "blocks": [b.to_dict() for b in blocks]}


def _utc(ts: datetime) -> str:
    return f"{ts.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


# ---------------------------------------------------------------------------- help

# (usage, what it does). The dispatcher in commands.py refuses to start if a subcommand has no line.
COMMAND_HELP: dict[str, tuple[str, str]] = {
    "help": ("help", "show this list"),
    "health": (
        "health [HOST]",
        "Pyroscope readiness and the `pyroscope` container's state and health, on every host or on HOST",
    ),
    "runners": ("runners", "the host-side runners, their last heartbeat and podman version"),
    "diagnose": (
        "diagnose INC-PROF-00N|unavailable|overhead SERVICE|no-data SERVICE|storage",
        "run a runbook diagnosis: findings, evidence and the runbook's remediations",
    ),
    "freshness": ("freshness [SERVICE]", "which services sent profiles to Pyroscope in the last 5 minutes"),
    "runbook": ("runbook [ID]", "the runbook's procedures, or what one of them checks and offers"),
    "onboard": ("onboard SERVICE", "MAINT-PROF-002: what a service lacks for profiling, with the lines to add"),
    "baselines": ("baselines", "the runbook's performance baselines: expected, alert, measured, verdict"),
    "upgrade": ("upgrade VERSION", "MAINT-PROF-001 pre-flight: version, image pins, config and its backups"),
    "rollback": ("rollback", "MAINT-PROF-001 rollback pre-flight: what the rollback would return to"),
    "datasource": ("datasource", "MAINT-PROF-003: is Grafana's Pyroscope datasource there (and offer to provision it)"),
}


def help_message(command: str) -> Message:
    lines = [f"`{command} {usage}`: {what}" for usage, what in COMMAND_HELP.values()]
    return Message(
        text=f"{command} commands: " + ", ".join(COMMAND_HELP),
        blocks=[section("*profbot commands*\n" + "\n".join(lines))],
    )


def unknown_command(command: str, given: str) -> Message:
    shown = clip(given, 100)
    base = help_message(command)
    return Message(
        text=f"Unknown command `{shown}`. {base.text}",
        blocks=[section(f":grey_question: Unknown command `{shown}`."), *base.blocks],
    )


# ---------------------------------------------------------------------------- health


def health_ack() -> str:
    return ":hourglass_flowing_sand: Checking Pyroscope health; the answer will appear in this channel."


def not_a_host(given: str) -> str:
    return f":x: `{clip(given, 100)}` is not a host name (letters, digits, `.`, `_` and `-` only)."


def no_runner_registered() -> Message:
    text = (
        ":red_circle: No runner registered: no host has ever answered. Start `profbot runner` on the "
        "podman host (see deploy/ in the profbot repository)."
    )
    return Message(text="Pyroscope health: no runner registered", blocks=[section(text)])


def bus_unavailable(error: str) -> Message:
    text = f":red_circle: profbot cannot reach its Redis job bus, so no runner could be asked: {error}"
    return Message(text="profbot cannot reach Redis", blocks=[section(text)])


def report_lines(report: Report) -> str:
    return "\n".join(f"{ICON[f.severity]} *{escape(f.check)}*: {escape(f.detail)}" for f in report.ranked())


def health_message(reports: list[Report], requested_by: str | None) -> Message:
    failing = [f for r in reports for f in r.findings if f.severity.rank >= Severity.WARNING.rank]
    hosts = len(reports)
    if failing:
        headline = f"Pyroscope health: {len(failing)} failing check{'s' if len(failing) > 1 else ''}"
    else:
        headline = "Pyroscope health: all checks pass"
    blocks: list[Block] = [header(headline)]
    for report in reports:
        blocks.append(section(f"{ICON[report.verdict]} *host {report.host}*\n{report_lines(report)}"))
    who = f"requested by <@{requested_by}> · " if requested_by else ""
    blocks.append(context(f"{who}{hosts} host{'s' if hosts != 1 else ''} · {_utc(datetime.now(UTC))}"))
    text_lines = [headline] + [
        f"{r.host}: {f.check} {f.severity.value}: {f.detail}" for r in reports for f in r.ranked()
    ]
    return Message(text="\n".join(text_lines), blocks=blocks)


def cannot_post_here(error: str) -> str:
    return (
        f":warning: I could not post in this channel (`{error}`). Invite me with `/invite @profbot`, "
        "or use a channel I am in. Here is the answer, visible only to you:"
    )


# ---------------------------------------------------------------------------- runners


def runners_message(runners: list[RunnerInfo], alive: set[str]) -> Message:
    if not runners:
        return no_runner_registered()
    lines = []
    for r in runners:
        state = ":large_green_circle: up" if r.host in alive else ":red_circle: not heartbeating"
        podman = (
            f"podman {r.podman_version}" if r.podman_version else f"podman unreachable ({escape(str(r.podman_error))})"
        )
        lines.append(
            f"{state} *{r.host}*: last seen {_utc(r.last_seen_at)}, runner {r.version}, {podman}, "
            f"{len(r.containers)} containers, Pyroscope at {r.pyroscope_url}"
        )
    return Message(
        text=f"{len(alive)} of {len(runners)} runners up",
        blocks=[section("*Runners*\n" + "\n".join(lines))],
    )


def internal_error() -> str:
    return ":boom: Something went wrong inside profbot; the error is in its log."


# ---------------------------------------------------------------------------- diagnoses


def diagnosis_ack(procedure_id: str, title: str, target: str) -> str:
    return f":mag: Running {procedure_id} ({title}) for `{target}`; the findings will appear in this channel."


def unknown_procedure(given: str, known: list[str]) -> str:
    return f":x: No runbook procedure `{clip(given, 60)}`. Known: {', '.join(known)}."


def needs_service(procedure_id: str, usage: str) -> str:
    return f":x: {procedure_id} needs an argument: `{usage}`."


def no_host_for(target: str) -> Message:
    text = f":red_circle: No heartbeating runner reports a container named `{target}`."
    return Message(text=text, blocks=[section(text)])


def remediation_value(r: Remediation) -> str:
    """What a button carries: procedure, action, target and host (checked again on click)."""
    value = json.dumps(
        {"p": r.procedure, "a": r.action, "t": r.target, "h": r.host, "params": r.params}, separators=(",", ":")
    )
    if len(value) > MAX_BUTTON_VALUE:
        raise ValueError(f"remediation value over {MAX_BUTTON_VALUE} characters: {value[:80]}")
    return value


KIND_WORD = {OpKind.READ: "read", OpKind.CHANGE: "change", OpKind.DESTROY: "destroy"}


def remediation_button(r: Remediation) -> ButtonElement:
    style = "danger" if r.kind is OpKind.DESTROY else ("primary" if r.kind is OpKind.CHANGE else None)
    return ButtonElement(
        text=clip(f"{r.label} ({KIND_WORD[r.kind]})", MAX_BUTTON_TEXT),
        action_id=f"remediate:{r.procedure}:{r.action}",
        value=remediation_value(r),
        style=style,
    )


def report_message(report: Report, requested_by: str | None) -> Message:
    headline = f"{ICON[report.verdict]} {escape(report.summary())}"
    blocks: list[Block] = [
        header(f"{report.procedure}: {report.title}"),
        section(f"*{headline}*\n{report_lines(report)}"),
    ]
    if report.notes:
        blocks.append(context(*(f":memo: {escape(note)}" for note in report.notes)))
    if report.remediations:
        blocks.append(
            ActionsBlock(elements=[remediation_button(r) for r in report.remediations[:MAX_ACTIONS_ELEMENTS]])
        )
    who = f"requested by <@{requested_by}> · " if requested_by else ""
    evidence = " · evidence in the thread" if report.evidence else ""
    blocks.append(context(f"{who}host {report.host} · {_utc(report.finished_at)}{evidence}"))
    text_lines = [headline] + [f"{f.severity.value}: {f.check}: {f.detail}" for f in report.ranked()]
    return Message(text="\n".join(text_lines), blocks=blocks)


CODE_CHUNK = MAX_SECTION_TEXT - 10  # room for the ``` fences


def evidence_message(item: Evidence) -> Message:
    """Raw output as code blocks, each within a section's 3000 characters; what does not fit in
    one message's 50 blocks is cut and counted."""
    blocks: list[Block] = [section(f"*{item.title}*")]
    chunk: list[str] = []
    size = 0
    cut = 0
    for i, line in enumerate(item.lines):
        line = escape(line.replace("```", "ʼʼʼ"))[:CODE_CHUNK]
        if size + len(line) + 1 > CODE_CHUNK:
            if len(blocks) >= MAX_BLOCKS - 2:
                cut = len(item.lines) - i
                break
            blocks.append(section("```" + "\n".join(chunk) + "```"))
            chunk, size = [], 0
        chunk.append(line)
        size += len(line) + 1
    if chunk and not cut:
        blocks.append(section("```" + "\n".join(chunk) + "```"))
    if not item.lines:
        blocks.append(section("_(empty)_"))
    omitted = cut + item.omitted_lines
    if omitted:
        blocks.append(context(f"_{omitted} more lines not shown_"))
    return Message(text=f"{item.title}: {len(item.lines)} lines", blocks=blocks)


def remediation_preview(r: Remediation, user: str) -> str:
    return (
        f":lock: <@{user}>, `{r.action}` of `{r.target}` ({r.procedure}) is a *{KIND_WORD[r.kind]}* on host "
        f"`{r.host}`; its impact is in the diagnosis above. Changes run only through profbot's confirmation "
        "and approval flow, which this version does not have yet: nothing was run."
    )


def stale_button() -> str:
    return ":x: This button no longer matches a runbook remediation; run the diagnosis again."


# ---------------------------------------------------------------------------- freshness and runbook


def freshness_message(host: str, fresh: Freshness) -> Message:
    lines = []
    for s in fresh.services:
        icon = ICON[Severity.OK] if s.has_data else ICON[Severity.CRITICAL]
        detail = f"{s.samples} samples" if s.has_data else "no profiles"
        lines.append(f"{icon} *{s.service}*: {detail} in the last {fresh.minutes} min")
    if not lines:
        lines.append("_no service has sent profiles in the window_")
    blocks: list[Block] = [section(f"*Profile freshness on {host}* (Pyroscope {fresh.api})\n" + "\n".join(lines))]
    if fresh.note:
        blocks.append(context(f":memo: {fresh.note}"))
    stale = [s.service for s in fresh.services if not s.has_data]
    text = f"Profile freshness on {host}: " + (f"no recent profiles for {', '.join(stale)}" if stale else "all fresh")
    return Message(text=text, blocks=blocks)


def runbook_index(procedures: list[tuple[str, str, str]]) -> Message:
    lines = [f"*{pid}*: {title} (`{usage}`)" for pid, title, usage in procedures]
    return Message(text="Runbook procedures", blocks=[section("*Runbook procedures*\n" + "\n".join(lines))])


def runbook_entry(pid: str, title: str, doc: str, usage: str) -> Message:
    text = f"*{pid}: {title}*\n{doc}\nRun it: `{usage}`"
    return Message(text=f"{pid}: {title}", blocks=[section(text)])
