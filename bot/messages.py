"""Every text a Slack user sees, and the Block Kit that carries it.

Built with slack_sdk's model classes. slack_sdk does not check every Block Kit limit in
``to_dict()`` (not the 50-block or the 3000-character section limit, see
``../shared/reference/slack-platform.md``), so :class:`Message` enforces them itself: an over-long
text is cut and the cut is said, never refused by Slack as ``invalid_blocks``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.alert_ledger import AlertGroup
from bot.alert_payloads import AlertIn
from handlers.findings import Evidence, Finding, Remediation, Report, Severity
from profbot.approvals import ChangeRequest, RequestState
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
    "restart": (
        "restart SERVICE",
        "request a restart of SERVICE (you confirm it; then /ready or the diagnosis checks it)",
    ),
    "audit": ("audit [N]", "the latest N audit events: requests, confirmations, approvals, executions, results"),
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


# ---------------------------------------------------------------------------- access


def not_allowed(user: str, what: str) -> str:
    return (
        f":no_entry: <@{user}>, you are not an operator of profbot: {what} is not allowed. "
        "`help` and `health` are open to everyone; ask in the channel for an operator."
    )


# ---------------------------------------------------------------------------- change requests

STATE_WORDS = {
    RequestState.AWAITING_CONFIRMATION: ":hourglass_flowing_sand: waiting for the requester's confirmation",
    RequestState.AWAITING_APPROVAL: ":hourglass_flowing_sand: waiting for a second person's approval",
    RequestState.RUNNING: ":gear: running",
    RequestState.SUCCEEDED: ":white_check_mark: succeeded",
    RequestState.FAILED: ":x: failed",
    RequestState.UNKNOWN: ":grey_question: outcome unknown: check the target before trying again",
    RequestState.EXPIRED: ":alarm_clock: expired: nothing ran",
    RequestState.REJECTED: ":no_entry_sign: rejected: nothing ran",
    RequestState.CANCELLED: ":leftwards_arrow_with_hook: cancelled: nothing ran",
}

CONFIRM_ACTION = "change:confirm"
CANCEL_ACTION = "change:cancel"
APPROVE_ACTION = "change:approve"
REJECT_ACTION = "change:reject"
DESTROY_MODAL = "change:typed-confirmation"
TYPED_BLOCK = "typed_name"
TYPED_INPUT = "value"


def _at(epoch: float) -> str:
    return f"{datetime.fromtimestamp(epoch, UTC):%H:%M:%S} UTC"


def _step_lines(request: ChangeRequest) -> str:
    done = {o.index: o for o in request.outcomes}
    lines = []
    for i, step in enumerate(request.steps):
        outcome = done.get(i)
        if outcome is None:
            running = request.state is RequestState.RUNNING and i == len(request.outcomes)
            icon = ":gear:" if running else ":white_small_square:"
            lines.append(f"{icon} `{step.op}` {escape(step.text)}")
        else:
            icon = ":white_check_mark:" if outcome.ok else ":x:"
            detail = "; ".join(outcome.lines) if outcome.ok else (outcome.error or "failed")
            lines.append(f"{icon} `{step.op}` {escape(step.text)}: {escape(detail)}")
    return "\n".join(lines)


def change_request_message(request: ChangeRequest, approvers_hint: str = "") -> Message:
    """The request as it stands: what runs where, its impact, its state; buttons only while pending."""
    destroy = request.kind is OpKind.DESTROY
    title = f"{'Destroy' if destroy else 'Change'} request: {request.label}"
    target = request.identity.describe() if request.identity else f"`{request.target}`"
    blocks: list[Block] = [
        header(title),
        section(
            f"*What runs* on host `{request.host}` ({request.procedure}, `{request.action}`):\n{_step_lines(request)}\n"
            f"*Target:* {escape(target)}\n*Impact:* {escape(request.impact)}"
        ),
    ]
    state = STATE_WORDS[request.state]
    if request.decided_by and request.decided_at:
        verb = {
            RequestState.REJECTED: "rejected",
            RequestState.CANCELLED: "cancelled",
        }.get(request.state, "approved" if destroy else "confirmed")
        state += f" · {verb} by <@{request.decided_by}> at {_at(request.decided_at)}"
    if request.error and request.state not in (RequestState.SUCCEEDED,):
        state += f"\n{escape(clip(request.error, 1500))}"
    if request.verification:
        state += f"\n*Verification:* {escape(request.verification)}"
    blocks.append(section(f"*State:* {state}"))
    if request.state is RequestState.AWAITING_CONFIRMATION:
        blocks.append(
            ActionsBlock(
                elements=[
                    ButtonElement(text="Confirm: run it", action_id=CONFIRM_ACTION, value=request.id, style="primary"),
                    ButtonElement(text="Cancel", action_id=CANCEL_ACTION, value=request.id),
                ]
            )
        )
    elif request.state is RequestState.AWAITING_APPROVAL:
        blocks.append(
            ActionsBlock(
                elements=[
                    ButtonElement(text="Approve", action_id=APPROVE_ACTION, value=request.id, style="danger"),
                    ButtonElement(text="Reject", action_id=REJECT_ACTION, value=request.id),
                ]
            )
        )
    who = (
        f"requested by <@{request.requested_by}> · only they can confirm"
        if not destroy
        else f"requested by <@{request.requested_by}> · an approver other than the requester must approve"
        + (f" ({approvers_hint})" if approvers_hint else "")
    )
    pending = f" · expires {_at(request.expires_at)}" if request.state.pending else ""
    blocks.append(context(f"{who}{pending} · request `{request.id[:12]}`"))
    return Message(text=f"{title}: {STATE_WORDS[request.state]}", blocks=blocks)


def already_handled(request: ChangeRequest) -> str:
    state = STATE_WORDS[request.state]
    if request.decided_by and request.decided_at:
        done = f"{state}: handled by <@{request.decided_by}> at {_at(request.decided_at)}"
    else:
        done = state
    result = ""
    if request.outcomes:
        result = "\nResult: " + "; ".join(
            ("; ".join(o.lines) if o.ok else (o.error or "failed")) for o in request.outcomes
        )
    return clip(
        f":information_source: `{request.label}` is already {done}. Nothing more was run.{escape(result)}", 3000
    )


def request_not_found() -> str:
    return ":x: This change request is not known any more (it was never stored, or it is over 30 days old)."


def only_requester_confirms(request: ChangeRequest) -> str:
    return f":lock: Only <@{request.requested_by}>, who requested `{request.label}`, can confirm or cancel it."


def requester_cannot_approve(request: ChangeRequest) -> str:
    return (
        f":lock: You requested `{request.label}`: a destroy needs a *second* person's approval, "
        "even when the requester is an approver. Nothing was run."
    )


def not_an_approver(request: ChangeRequest) -> str:
    return f":lock: Only profbot's approvers can approve or reject `{request.label}`. Nothing was run."


def cooldown_refused(label: str, target: str, host: str, count: int, per_hour: int) -> str:
    return (
        f":octagonal_sign: `{label}` already ran {count} times on `{target}` (host `{host}`) in the last hour; "
        f"the limit is {per_hour}. Repeating it is not fixing it: escalate to the Pyroscope owners. Nothing was run."
    )


def already_requested(request: ChangeRequest) -> str:
    return (
        f":information_source: `{request.label}` on host `{request.host}` is already requested "
        f"(`{request.id[:12]}`, by <@{request.requested_by}>, {STATE_WORDS[request.state]}): "
        "use that request. Nothing new was filed."
    )


def change_requested(request: ChangeRequest) -> str:
    how = "approve" if request.kind is OpKind.DESTROY else "confirm"
    return f":memo: Change request `{request.id[:12]}` posted: {how} it in the thread before {_at(request.expires_at)}."


def change_not_requested(reason: str) -> str:
    return f":x: The change was not requested: {escape(reason)}. Nothing was run."


def verification_message(request: ChangeRequest, finding: Finding) -> Message:
    text = f"{ICON[finding.severity]} Verification of `{request.label}`: {finding.check}: {escape(finding.detail)}"
    return Message(text=text, blocks=[section(text)])


def destroy_modal(remedy: Remediation, metadata: str) -> View:
    return View(
        type="modal",
        callback_id=DESTROY_MODAL,
        private_metadata=metadata,
        title=PlainTextObject(text="Confirm a destroy"),
        submit=PlainTextObject(text="Request approval"),
        close=PlainTextObject(text="Cancel"),
        blocks=[
            section(
                f":warning: *{escape(remedy.label)}* on host `{remedy.host}` ({remedy.procedure}).\n"
                f"{escape(remedy.impact)}\nA second person from the approvers must approve before anything runs."
            ),
            InputBlock(
                block_id=TYPED_BLOCK,
                label=PlainTextObject(text=f"Type {remedy.target} to confirm"),
                element=PlainTextInputElement(action_id=TYPED_INPUT, placeholder=remedy.target[:150]),
            ),
        ],
    )


def typed_name_wrong(expected: str) -> str:
    return f"That is not `{expected}`: type the volume name exactly to request its deletion."


# ---------------------------------------------------------------------------- audit


def audit_line(event: dict[str, Any]) -> str:
    at = _at(float(event.get("at", 0)))
    actor = f"<@{event['actor']}>" if event.get("actor") else "profbot"
    what = " ".join(str(event[k]) for k in ("procedure", "action", "target") if event.get(k))
    host = f" on `{event['host']}`" if event.get("host") else ""
    request = f" `{str(event['request_id'])[:12]}`" if event.get("request_id") else ""
    outcome = f": {escape(str(event['outcome']))}" if event.get("outcome") else ""
    return clip(f"{at} *{event.get('event', '?')}* by {actor} {escape(what)}{host}{request}{outcome}", 600)


def audit_message(events: list[dict[str, Any]]) -> Message:
    if not events:
        text = "The audit log is empty."
        return Message(text=text, blocks=[section(text)])
    blocks: list[Block] = [header(f"Audit: the latest {len(events)} events")]
    chunk: list[str] = []
    for line in (audit_line(e) for e in events):
        if sum(len(x) + 1 for x in chunk) + len(line) > MAX_SECTION_TEXT - 10:
            blocks.append(section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    if chunk:
        blocks.append(section("\n".join(chunk)))
    return Message(text=f"Audit: the latest {len(events)} events", blocks=blocks)


def audit_mirror_message(event: dict[str, Any]) -> Message:
    line = f":scroll: {audit_line(event)}"
    return Message(text=line, blocks=[section(line)])


# ---------------------------------------------------------------------------- alerts

MAX_INSTANCES_SHOWN = 10


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes}m {secs}s" if hours else (f"{minutes}m {secs}s" if minutes else f"{secs}s")


def _link(url: str, label: str) -> str | None:
    # Only http(s) URLs, with Slack's control characters escaped: a label is never a second link.
    if not url.startswith(("http://", "https://")) or "|" in url or ">" in url:
        return None
    return f"<{url.replace(' ', '%20')}|{label}>"


def _alert_line(alert: AlertIn) -> str:
    instance = alert.labels.get("instance") or alert.labels.get("service") or alert.identity[:12]
    summary = alert.annotations.get("summary", "")
    return f"`{escape(instance)}` {escape(summary)}".strip()[:200]  # ten of them fit a section


def alert_parent_message(group: AlertGroup, procedure: str | None) -> Message:
    firing = group.status == "firing"
    icon = ":red_circle:" if firing else ":white_check_mark:"
    labels = {**group.common_labels, **group.group_labels}
    severity = labels.get("severity", "unknown")
    state = "FIRING" if firing else "RESOLVED"
    title = f"{icon} {state}: {group.alertname}"  # a header is plain text: nothing in it is markup
    alerts = sorted(group.alerts.values(), key=lambda a: a.identity)
    shown = group.firing if firing and group.firing else alerts
    lines = [_alert_line(a) for a in shown[:MAX_INSTANCES_SHOWN]]
    if len(shown) > MAX_INSTANCES_SHOWN:
        lines.append(f"_and {len(shown) - MAX_INSTANCES_SHOWN} more_")
    summary = group.common_annotations.get("summary") or (alerts[0].annotations.get("summary", "") if alerts else "")
    first = alerts[0] if alerts else None
    links = [
        _link(first.generatorURL, "source") if first else None,
        _link(first.silenceURL, "silence") if first and first.silenceURL else None,
        _link(f"{group.external_url}/#/silences/new", "silence")
        if group.source == "alertmanager" and group.external_url
        else None,
        _link(first.dashboardURL, "dashboard") if first and first.dashboardURL else None,
        _link(first.panelURL, "panel") if first and first.panelURL else None,
    ]
    body = f"*{escape(clip(summary, 500))}*\n" if summary else ""  # a long summary must not hide the instances
    body += f"severity `{escape(severity)}` · {len(group.firing)} of {len(group.alerts)} alerts firing\n"
    body += "\n".join(lines)
    blocks: list[Block] = [header(clip(title, MAX_HEADER_TEXT)), section(body)]
    link_text = " · ".join(link for link in links if link)
    if link_text:
        blocks.append(context(link_text))
    timing = (
        f"first seen {_at(group.first_seen)} · last seen {_at(group.last_seen)} · {group.notifications} notifications"
    )
    if not firing and group.resolved_at:
        began = group.started.timestamp() if group.started else group.first_seen
        timing += f" · resolved after {_duration(group.resolved_at - began)}"
    runbook = f" · runbook {procedure}: diagnosis in the thread" if procedure else ""
    blocks.append(context(f"{timing} · {group.source}{runbook}"))
    return Message(text=f"{state}: {escape(group.alertname)} ({escape(severity)})", blocks=blocks)


def alerts_joined_message(alerts: list[AlertIn]) -> Message:
    lines = [_alert_line(a) for a in alerts[:MAX_INSTANCES_SHOWN]]
    if len(alerts) > MAX_INSTANCES_SHOWN:
        lines.append(f"_and {len(alerts) - MAX_INSTANCES_SHOWN} more_")
    text = f":heavy_plus_sign: {len(alerts)} more alert{'s' if len(alerts) > 1 else ''} firing in this group:"
    return Message(text=text, blocks=[section(text + "\n" + "\n".join(lines))])


def alert_resolved_message(group: AlertGroup) -> Message:
    began = group.started.timestamp() if group.started else group.first_seen
    lasted = _duration((group.resolved_at or time.time()) - began)
    text = f":white_check_mark: Resolved: {escape(group.alertname)}, after {lasted}."
    return Message(text=text, blocks=[section(text)])


def alert_refiring_message(group: AlertGroup) -> Message:
    text = f":red_circle: Firing again: {escape(group.alertname)}."
    return Message(text=text, blocks=[section(text)])


def alert_needs_target(procedure: str, usage: str) -> Message:
    text = (
        f":information_source: This alert maps to {procedure}, which needs a service: the alert has no "
        f"`service`, `service_name` or `container` label. Run `/prof {usage}` by hand."
    )
    return Message(text=text, blocks=[section(text)])
