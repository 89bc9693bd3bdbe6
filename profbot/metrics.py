"""profbot's Prometheus metrics: every name in one module, so a dashboard and the code agree.

``profbot serve`` exposes them on ``GET /metrics``; a runner on ``PROFBOT_RUNNER_METRICS_LISTEN``
when set. Each process registers only what it moves: the families live in prometheus-client's
default registry (with its process collector: RSS, CPU, open fds), and a family nobody touched
shows with no samples.

Label values are bounded sets (a slash command's name, a Slack method, an operation, an outcome),
never free text from outside: a forged request cannot grow the registry.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest

# Latency buckets around Slack's 3 s ack deadline and the 30 ms ack target.
ACK_BUCKETS = (0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 3.0, 10.0)
JOB_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

# ---------------------------------------------------------------------------- Slack in
SLASH_COMMANDS = Counter(
    "profbot_slash_commands_total", "Slash commands received, by subcommand and outcome", ["command", "outcome"]
)
INTERACTIONS = Counter(
    "profbot_interactions_total", "Buttons, forms and events received, by kind and outcome", ["kind", "outcome"]
)
ACK_SECONDS = Histogram(
    "profbot_ack_seconds", "Time from a Slack request's arrival to its acknowledgement", ["kind"], buckets=ACK_BUCKETS
)

# ---------------------------------------------------------------------------- Slack out
SLACK_API_CALLS = Counter(
    "profbot_slack_api_calls_total",
    "Slack Web API calls by method and error ('' when ok; 'ratelimited' for a 429)",
    ["method", "error"],
)
CHANNEL_REFUSALS = Counter(
    "profbot_channel_refusals_total",
    "Posts a configured channel refused (not_in_channel, channel_not_found, is_archived), by role",
    ["role", "error"],
)

# ---------------------------------------------------------------------------- jobs
JOBS = Counter("profbot_jobs_total", "Jobs the bot sent to runners, by operation and outcome", ["operation", "outcome"])
JOB_SECONDS = Histogram(
    "profbot_job_seconds", "Time from a job's dispatch to its result, by operation", ["operation"], buckets=JOB_BUCKETS
)
RUNNER_HEARTBEAT_AGE = Gauge(
    "profbot_runner_heartbeat_age_seconds", "Seconds since each runner's last heartbeat", ["host"]
)
RUNNER_JOBS = Counter(
    "profbot_runner_jobs_total", "Jobs this runner executed, by operation and outcome", ["operation", "outcome"]
)
RUNNER_JOB_SECONDS = Histogram(
    "profbot_runner_job_seconds", "Time this runner spent on a job, by operation", ["operation"], buckets=JOB_BUCKETS
)

# ---------------------------------------------------------------------------- alerts
ALERT_WEBHOOKS = Counter(
    "profbot_alert_webhooks_total", "Alert webhooks received, by source and outcome", ["source", "outcome"]
)
ALERT_DEAD_LETTERS = Counter(
    "profbot_alert_dead_letters_total", "Alert notifications set aside after their group's update failed 5 times"
)
ALERT_INBOX_LAG = Gauge(
    "profbot_alert_inbox_lag_seconds", "Age of the oldest alert notification not yet posted to Slack (0: none)"
)

# ---------------------------------------------------------------------------- changes
CHANGE_REQUESTS = Gauge("profbot_change_requests", "Change requests by state", ["state"])


def exposition() -> tuple[bytes, str]:
    """Every metric of this process in Prometheus' text format, and the content type to serve it with."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
