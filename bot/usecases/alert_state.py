"""An alert thread's state in one line, the same words in every front end: firing N of M (or
resolved at T after D), acknowledged by, silenced until, the runbook procedure. A front end
passes how it names a person and a time (Slack: a mention; the shell: the id)."""

from __future__ import annotations

from collections.abc import Callable

from bot.usecases.content import AlertThread


def duration_words(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes}m {secs}s" if hours else (f"{minutes}m {secs}s" if minutes else f"{secs}s")


def state_line(thread: AlertThread, now: float, who: Callable[[str], str], when: Callable[[float], str]) -> str:
    group, parts = thread.group, []
    if group.status == "firing":
        parts.append(f"firing {len(group.firing)} of {len(group.alerts) + group.truncated}")
    else:
        resolved = group.ended.timestamp() if group.ended else group.resolved_at
        at = f" at {when(resolved)}" if resolved else ""
        parts.append(f"resolved{at} after {duration_words(group.lasted_seconds(now))}")
    if thread.acked_by and group.status == "firing":
        parts.append(f"acknowledged by {who(thread.acked_by)}")
    silence = thread.silence
    if silence is not None:
        by = f" by {who(silence.by)}" if silence.by else ""
        if silence.state == "unknown":
            parts.append(f"silence {silence.id[:8]}: Alertmanager does not answer")
        elif silence.state == "expired":
            parts.append(f"silence {silence.id[:8]} expired")
        elif silence.ends_at is not None:
            pending = " (pending)" if silence.state == "pending" else ""
            parts.append(f"silenced{by} until {when(silence.ends_at)}{pending} (silence {silence.id[:8]})")
    if thread.procedure:
        parts.append(f"runbook {thread.procedure}")
    return " · ".join(parts)
