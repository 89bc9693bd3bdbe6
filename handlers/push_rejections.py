"""INC-PROF-003's pipeline causes: pushes Pyroscope refused, and the SDK or profiler that logs the
refusal and keeps running. Pure: what Pyroscope counted (``pyroscope.rejections``) and the lines
the service's profiler logged, turned into findings that name the limit, its value and the fix.

The reasons and messages are Pyroscope v1's own (pkg/validation/validate.go, pkg/distributor): a
push over the ingestion rate gets 429 "push rate limit (...) exceeded while adding ...", an
oversized or over-sampled profile and one outside the ingestion window 400 with the limit named.
pyroscope-rs (the engine of pyroscope-io and the other SDKs) logs a refused push as "Sending
Session failed STATUS BODY" (src/session.rs) and carries on.
"""

from __future__ import annotations

from dataclasses import dataclass

from handlers.context import Outcome
from handlers.evidence import quote
from handlers.findings import Finding, Severity
from handlers.profile_units import bytes_text
from profbot.ops.pyroscope import PushRejections


@dataclass(frozen=True)
class Cause:
    what: str  # what was exceeded, in words
    limits: tuple[str, ...]  # the config names that set it (limits: in Pyroscope's config)
    fix: str
    said: tuple[str, ...]  # how the refusal reads in a profiler's or SDK's log (lowercase)


CAUSES: dict[str, Cause] = {
    "rate_limited": Cause(
        "the ingestion rate",
        ("ingestion_rate_mb", "ingestion_burst_size_mb"),
        "raise limits.ingestion_rate_mb in Pyroscope's config, and ingestion_burst_size_mb to at least the "
        "largest push; or push less per second (a longer upload interval, a lower sample rate)",
        ("push rate limit", "sending session failed 429"),
    ),
    "profile_size_limit": Cause(
        "the profile size limit",
        ("max_profile_size_bytes",),
        "raise limits.max_profile_size_bytes, or upload more often so each profile is smaller",
        ("exceeds the size limit", "payload size exceeds limit", "sending session failed 413"),
    ),
    "body_size_limit_exceeded": Cause(
        "the request body limit",
        ("ingestion_body_limit_mb",),
        "raise limits.ingestion_body_limit_mb, or upload more often so each request is smaller",
        ("request body too large", "batched profile payload size exceeds"),
    ),
    "samples_limit": Cause(
        "the samples per profile limit",
        ("max_profile_stacktrace_samples",),
        "raise limits.max_profile_stacktrace_samples, or upload more often (fewer stacks a profile)",
        ("samples count limit",),
    ),
    "not_in_ingestion_window": Cause(
        "the ingestion window",
        ("reject_older_than", "reject_newer_than"),
        "fix the clock of the service's host (NTP: a 1970 timestamp is a clock never set) or the SDK's buffer "
        "that sends old profiles; reject_older_than widens the window",
        ("outside of ingestion window",),
    ),
}


def reason_of(line: str) -> str | None:
    """The refusal a log line reports, by Pyroscope's reason; None when it reports none."""
    low = line.lower()
    return next((reason for reason, cause in CAUSES.items() if any(s in low for s in cause.said)), None)


def _limits(cause: Cause, limits: dict[str, str]) -> str:
    known = [f"{name} = {limits[name]}" for name in cause.limits if name in limits]
    return "; now " + ", ".join(known) if known else ""


def pipeline_findings(service: str, rejections: Outcome[PushRejections], logged: list[str]) -> list[Finding]:
    """What Pyroscope refused and what the service's profiler logged of it, one finding a cause."""
    mine: dict[str, list[str]] = {}
    for line in logged:
        reason = reason_of(line)
        if reason is not None:
            mine.setdefault(reason, []).append(line)
    counted = rejections.value
    limits = counted.limits if counted is not None else {}
    findings: list[Finding] = []
    for reason, lines in mine.items():
        logged_cause = CAUSES[reason]
        findings.append(
            Finding(
                check=f"pushes refused: {reason}",
                severity=Severity.CRITICAL,
                detail=f"{service}'s profiler logs {len(lines)} refused pushes over {logged_cause.what}"
                f"{_limits(logged_cause, limits)}: {logged_cause.fix}. Its last: {quote(lines[-1:])}",
            )
        )
    if counted is not None:
        for d in counted.discarded:
            if d.reason in mine:
                continue
            cause = CAUSES.get(d.reason)
            size = f" ({bytes_text(d.bytes)})" if d.bytes else ""
            fix = f" over {cause.what}{_limits(cause, limits)}: {cause.fix}" if cause else ""
            findings.append(
                Finding(
                    check=f"pushes refused: {d.reason}",
                    severity=Severity.WARNING,
                    detail=f"Pyroscope refused {d.profiles:,.0f} profiles{size} of tenant {d.tenant} since it "
                    f"started{fix} (none logged by {service}: perhaps another service's)",
                )
            )
    failures = [line for line in logged if "sending session failed" in line.lower() and reason_of(line) is None]
    if failures:
        findings.append(
            Finding(
                check="SDK push failures",
                severity=Severity.WARNING,
                detail=f"the SDK logs {len(failures)} failed pushes and keeps running: {quote(failures)}",
            )
        )
    if not findings:
        if counted is not None and counted.api == "v1":
            findings.append(Finding(check="pushes refused", severity=Severity.OK, detail="none counted by Pyroscope"))
        elif counted is not None:
            findings.append(
                Finding(check="pushes refused", severity=Severity.INFO, detail=counted.note or "not counted")
            )
        elif rejections.error is not None:
            findings.append(
                Finding(check="pushes refused", severity=Severity.WARNING, detail=f"not read: {rejections.error}")
            )
    return findings
