"""Everything the terminal shows, as plain text: one renderer per kind of content (the same content Slack renders as
Block Kit). Findings carry their severity in words; remediations are numbered choices; nothing here is markup."""

from __future__ import annotations

import typing
from datetime import UTC, datetime
from functools import singledispatch

from bot.usecases.commands import AUDIT_MAX, MINUTES_MAX, Diagnose, Problem, Unparsed
from bot.usecases.content import (
    Accepted,
    AlreadyRequested,
    AmbiguousRequest,
    AuditEntry,
    AuditListing,
    BusUnavailable,
    CannotPostHere,
    ChangeAbandoned,
    ChangeNotRequested,
    ChangeRequested,
    Content,
    CooldownReached,
    DecisionRefused,
    DiagnosisPosted,
    HealthOverview,
    HelpListing,
    InternalError,
    NoHostFor,
    NoRunners,
    NotAllowed,
    ProfileSummary,
    QuickLinks,
    RequestNotFound,
    RunbookEntry,
    RunbookIndex,
    RunnersOverview,
    StaleOffer,
    TargetBusy,
    TypedNameWrong,
    Verified,
)
from handlers.evidence import left_on_host
from handlers.findings import Evidence, Finding, Report
from handlers.profile_analysis import amount, text_flamegraph, top_functions_table, top_functions_title
from profbot.approvals.model import ChangeRequest, RequestState
from profbot.approvals.rules import Refusal
from profbot.audit import AuditEvent
from profbot.ops import OpKind

# Shell-only commands, shown after the shared ones in help.
SHELL_HELP = [("N", "choose remediation N of the last report"), ("quit", "leave (Ctrl-D too)")]

STATE_WORDS = {
    RequestState.AWAITING_CONFIRMATION: "waiting for the requester's confirmation",
    RequestState.AWAITING_APPROVAL: "waiting for a second person's approval",
    RequestState.RUNNING: "running",
    RequestState.SUCCEEDED: "succeeded",
    RequestState.FAILED: "failed",
    RequestState.UNKNOWN: "outcome unknown: check the target before trying again",
    RequestState.EXPIRED: "expired: nothing ran",
    RequestState.REJECTED: "rejected: nothing ran",
    RequestState.CANCELLED: "cancelled: nothing ran",
}


def _at(epoch: float) -> str:
    return f"{datetime.fromtimestamp(epoch, UTC):%H:%M:%S} UTC"


def finding_line(f: Finding) -> str:
    return f"  {f.severity.value.upper():<8} {f.check}: {f.detail}"


@singledispatch
def text(content: object) -> str:
    raise TypeError(f"no terminal rendering for {type(content).__name__}")


@text.register
def _report(report: Report) -> str:
    lines = [f"{report.procedure}: {report.title} (host {report.host})", f"{report.verdict.value.upper()}: "
             f"{report.summary()}", *(finding_line(f) for f in report.ranked())]  # fmt: skip
    lines += [f"  note: {note}" for note in report.notes]
    return "\n".join(lines)


@text.register
def _profile_summary(content: ProfileSummary) -> str:
    profile, total = content.profile, amount(content.profile, content.profile.num_ticks)
    lines = [f"{top_functions_title(profile)}:", *(f"  {t}" for t in top_functions_table(profile))]
    lines += [f"Flamegraph, hottest paths first (of {total} in all):", *(f"  {t}" for t in text_flamegraph(profile))]
    return "\n".join([*lines, f"In Pyroscope: {profile.ui_url}"])


@text.register
def _diagnosis(content: DiagnosisPosted) -> str:
    lines = [_report(content.report)]
    if content.offers:
        lines.append("Remediations (type the number):")
        for n, offer in enumerate(content.offers, 1):
            r = offer.remediation
            lines.append(f"  [{n}] {r.label} ({r.kind.value}) - {r.impact}")
    if content.report.evidence:
        lines.append("Evidence follows.")
    return "\n".join(lines)


@text.register
def _evidence(item: Evidence) -> str:
    left = left_on_host(item)  # long evidence is saved to a file instead (bot/shell/evidence.py)
    return f"  {item.title}:\n" + "\n".join(f"    {line}" for line in item.lines) + (f"\n    ({left})" if left else "")


@text.register
def _health(content: HealthOverview) -> str:
    failing = sum(1 for r in content.reports for f in r.findings if f.severity.rank >= 2)
    head = f"Pyroscope health: {failing} failing checks" if failing else "Pyroscope health: all checks pass"
    body = [f"host {r.host}: {r.verdict.value.upper()}\n" + "\n".join(map(finding_line, r.ranked()))
            for r in content.reports]  # fmt: skip
    if content.profiles is not None:  # the freshness check against the expected services: its failures
        p = content.profiles
        failing_profiles = [finding_line(f) for f in p.ranked() if f.severity.rank >= 2]
        body.append(f"profiles: {p.verdict.value.upper()}: {p.summary()}\n" + "\n".join(failing_profiles))
    return "\n".join([head, *body]).rstrip()


@text.register
def _runners(content: RunnersOverview) -> str:
    lines = [f"{len(content.alive)} of {len(content.runners)} runners up"]
    for r in content.runners:
        state = "up" if r.host in content.alive else "NOT HEARTBEATING"
        podman = f"podman {r.podman_version}" if r.podman_version else f"podman unreachable ({r.podman_error})"
        lines.append(f"  {r.host}: {state}, last seen {r.last_seen_at:%Y-%m-%d %H:%M:%S} UTC, {podman}, "
                     f"{len(r.containers)} containers, Pyroscope at {r.pyroscope_url}")  # fmt: skip
    return "\n".join(lines)


@text.register
def _quick_links(content: QuickLinks) -> str:
    whose = f" for {content.service}" if content.service else ""
    pyroscope = content.pyroscope or f"no address from the runner on {content.host} (PYROSCOPE_UI_URL)"
    grafana = content.grafana_explore or f"no address from the runner on {content.host} (GRAFANA_URL)"
    return f"Profiles{whose} (the last hour):\n  Pyroscope:       {pyroscope}\n  Grafana Explore: {grafana}"


def _help_line(usage: str, what: str, width: int = 24) -> str:
    return f"  {usage:<{width}}  {what}" if len(usage) <= width else f"  {usage}\n  {'':<{width}}  {what}"


@text.register
def _help(content: HelpListing) -> str:
    shared = [_help_line(line.usage, line.what) for line in content.lines]
    own = [_help_line(usage, what) for usage, what in SHELL_HELP]
    return "\n".join(["profbot commands (also as /prof ...):", *shared, *own])


@text.register
def _runbook_index(content: RunbookIndex) -> str:
    return "\n".join(["Runbook procedures:", *(f"  {x.procedure}: {x.title} ({x.usage})" for x in content.lines)])


@text.register
def _runbook_entry(content: RunbookEntry) -> str:
    return f"{content.procedure}: {content.title}\n{content.doc}\nRun it: {content.usage}"


def audit_line(e: AuditEvent) -> str:
    what = " ".join(v for v in (e.procedure, e.action, e.target) if v)
    host = f" on {e.host}" if e.host else ""
    request = f" {e.request_id}" if e.request_id else ""
    outcome = f": {e.outcome}" if e.outcome else ""
    return f"  {_at(e.at)} {e.kind.value} by {e.actor or 'profbot'} {what}{host}{request}{outcome}"


@text.register
def _audit(content: AuditListing) -> str:
    if not content.events:
        return "The audit log is empty."
    return "\n".join([f"Audit: the latest {len(content.events)} events", *map(audit_line, content.events)])


@text.register
def _audit_entry(content: AuditEntry) -> str:
    return audit_line(content.event).strip()


@text.register
def _accepted(content: Accepted) -> str:
    if isinstance(content.command, Diagnose):
        target = content.command.argument or "every profiled service on every host"
        return f"Running {content.command.procedure} ({content.title}) for {target}..."
    return ""


@text.register
def _unparsed(content: Unparsed) -> str:
    match content.problem:
        case Problem.UNKNOWN_COMMAND:
            return f"Unknown command {content.given!r}; `help` lists them."
        case Problem.UNKNOWN_PROCEDURE:
            return f"No runbook procedure {content.given!r}. Known: {', '.join(content.known)}."
        case Problem.NEEDS_ARGUMENT:
            return f"{content.subject} needs an argument: {content.usage}"
        case Problem.BAD_NAME:
            return f"{content.given!r} is not a {content.noun} (letters, digits, '.', '_' and '-' only)."
        case Problem.BAD_COUNT:
            return f"{content.given!r} is not a count: give a number from 1 to {AUDIT_MAX}."
        case Problem.BAD_REQUEST_ID:
            return f"{content.given!r} is not a request id: give its first 8 characters or more."
        case Problem.BAD_MINUTES:
            return f"{content.given!r} is not a number of minutes: give a number from 1 to {MINUTES_MAX}."


@text.register
def _not_allowed(content: NotAllowed) -> str:
    return (
        f"{content.user}, you are not an operator of profbot: {content.what} is not allowed. "
        "help and health are open to everyone (PROFBOT_OPERATORS lists operators)."
    )


@text.register
def _notice_no_runners(_: NoRunners) -> str:
    return "No runner registered: no host has ever answered. Start `profbot runner` on the podman host."


@text.register
def _bus(content: BusUnavailable) -> str:
    return f"profbot cannot reach its Redis job bus, so no runner could be asked: {content.error}"


@text.register
def _no_host(content: NoHostFor) -> str:
    return f"No heartbeating runner reports a container named {content.target}."


@text.register
def _internal(content: InternalError) -> str:
    return "Something went wrong inside profbot; the error is in its log." + (
        f" ({content.detail})" if content.detail else ""
    )


@text.register
def _cannot_post(content: CannotPostHere) -> str:
    return text(content.content)


@text.register
def _stale(_: StaleOffer) -> str:
    return "That choice no longer matches a runbook remediation; run the diagnosis again."


def _steps(request: ChangeRequest) -> list[str]:
    done = {o.index: o for o in request.outcomes}
    lines = []
    for i, step in enumerate(request.steps):
        outcome = done.get(i)
        mark = "[ ]" if outcome is None else ("[x]" if outcome.ok else "[!]")
        detail = "" if outcome is None else ": " + ("; ".join(outcome.lines) if outcome.ok else outcome.error or "")
        lines.append(f"  {mark} {step.op} {step.text}{detail}")
    return lines


@text.register
def _request(request: ChangeRequest) -> str:
    kind = "Destroy" if request.kind is OpKind.DESTROY else "Change"
    target = request.identity.describe() if request.identity else request.target
    state = STATE_WORDS[request.state]
    if request.decided_by and request.decided_at:
        state += f" (decided by {request.decided_by} at {_at(request.decided_at)})"
    lines = [f"{kind} request {request.id}: {request.label}", f"  on host {request.host}, target {target}",
             f"  impact: {request.impact}", *_steps(request), f"  state: {state}"]  # fmt: skip
    if request.error and request.state is not RequestState.SUCCEEDED:
        lines.append(f"  {request.error}")
    if request.verification:
        lines.append(f"  verification: {(request.verification_severity or 'info').upper()} {request.verification}")
    if request.state.pending:
        lines.append(f"  expires {_at(request.expires_at)}")
    return "\n".join(lines)


@text.register
def _requested(content: ChangeRequested) -> str:
    how = "approve ID (another approver)" if content.request.kind is OpKind.DESTROY else "confirm"
    return f"Request {content.request.id} filed: {how} before {_at(content.request.expires_at)}."


@text.register
def _already(content: AlreadyRequested) -> str:
    r = content.request
    return f"{r.label} on {r.host} is already requested ({r.id}, by {r.requested_by}): use that request."


@text.register
def _target_busy(content: TargetBusy) -> str:
    r, started = content.holder, f", started by {content.holder.decided_by}" if content.holder.decided_by else ""
    return (f"{content.wanted} was not filed: {r.target} on host {r.host} is held by {r.label} ({r.id}), requested by "
            f"{r.requested_by}, since {_at(r.held_since)}{started} ({r.state.value}). One change at a time per "
            "target: wait for it to finish, or have it cancelled. Nothing new was filed.")  # fmt: skip


@text.register
def _not_requested(content: ChangeNotRequested) -> str:
    return f"The change was not requested: {content.reason}. Nothing was run."


@text.register
def _cooldown(c: CooldownReached) -> str:
    return (
        f"{c.label} already ran {c.count} times on {c.target} (host {c.host}) in the last hour; the limit is "
        f"{c.per_hour}. Repeating it is not fixing it: escalate to the Pyroscope owners. Nothing was run."
    )


@text.register
def _ambiguous(content: AmbiguousRequest) -> str:
    return f"{content.prefix} is the start of {content.count} requests' ids: give more of the id."


@text.register
def _no_request(_: RequestNotFound) -> str:
    return "No such change request (never stored, or over 30 days old)."


@text.register
def _refused(content: DecisionRefused) -> str:
    r = content.request
    match content.refusal:
        case Refusal.ALREADY_DECIDED:
            by = f", by {r.decided_by} at {_at(r.decided_at)}" if r.decided_by and r.decided_at else ""
            return f"{r.label} is already {STATE_WORDS[r.state]}{by}. Nothing more was run."
        case Refusal.ONLY_REQUESTER:
            return f"Only {r.requested_by}, who requested {r.label}, can confirm or cancel it."
        case Refusal.SECOND_PERSON:
            return f"You requested {r.label}: a destroy needs a second person's approval. Nothing was run."
        case Refusal.NOT_APPROVER:
            return f"Only profbot's approvers can approve or reject {r.label}. Nothing was run."
        case Refusal.NOT_OPERATOR:
            return f"Only profbot's operators can confirm {r.label}. Nothing was run."
        case Refusal.NEEDS_CONFIRMATION:
            return f"{r.label} is a change: {r.requested_by} confirms it; there is nothing to approve."


@text.register
def _after_change(content: Verified | ChangeAbandoned) -> str:
    if isinstance(content, ChangeAbandoned):
        r = content.request
        return f"Change {r.id[:12]} ({r.label}): OUTCOME UNKNOWN, no profbot ran it for {content.silent_seconds:.0f}s"
    f = content.finding
    return f"Verification of {content.request.label}: {f.severity.value.upper()} {f.check}: {f.detail}"


@text.register
def _typed_wrong(content: TypedNameWrong) -> str:
    return f"That is not {content.expected}: nothing was requested."


# The alert threads' renderers register themselves (bot/shell/alert_text.py).
from bot.shell import alert_text  # noqa: E402, F401

_missing = [t.__name__ for t in typing.get_args(Content) if text.dispatch(t) is text.dispatch(object)]
if _missing:
    raise TypeError(f"content without a terminal rendering: {', '.join(_missing)}")

# What means the command could not run (for the exit code of a script read from standard input).
FAILURES: tuple[type, ...] = (
    Unparsed, NotAllowed, NoRunners, BusUnavailable, NoHostFor, InternalError, StaleOffer, ChangeNotRequested,
    CooldownReached, RequestNotFound, AmbiguousRequest, DecisionRefused, TypedNameWrong, AlreadyRequested,
    TargetBusy,
)  # fmt: skip
