"""INC-PROF-003's pipeline causes from what Pyroscope v1 really says.

Shapes: the metric names and reason labels are pkg/validation/validate.go's (DiscardedProfiles,
DiscardedBytes; rate_limited, profile_size_limit, samples_limit, not_in_ingestion_window); the
refusal texts are pkg/distributor/distributor.go's ("push rate limit (%s) exceeded while adding
%s") and validate.go's error messages; the limits are pkg/validation/limits.go's yaml names with
their defaults; the SDK line is pyroscope-rs src/session.rs ("Sending Session failed {} {}").
"""

from __future__ import annotations

from handlers.context import Outcome
from handlers.findings import Severity
from handlers.push_rejections import pipeline_findings, reason_of
from profbot.errors import OperationError
from profbot.ops.pyroscope import Discarded, PushRejections
from runner.pyroscope_rejections import discarded_from_metrics, limits_from_config

METRICS = """\
# HELP pyroscope_discarded_bytes_total The total number of bytes that were discarded.
# TYPE pyroscope_discarded_bytes_total counter
pyroscope_discarded_bytes_total{reason="rate_limited",tenant="anonymous"} 5.4525952e+06
pyroscope_discarded_bytes_total{reason="not_in_ingestion_window",tenant="team-a"} 20480
# HELP pyroscope_discarded_samples_total The total number of samples that were discarded.
# TYPE pyroscope_discarded_samples_total counter
pyroscope_discarded_samples_total{reason="rate_limited",tenant="anonymous"} 1234
pyroscope_discarded_samples_total{reason="not_in_ingestion_window",tenant="team-a"} 3
pyroscope_discarded_samples_total{reason="samples_limit",tenant="anonymous"} 0
pyroscope_distributor_received_compressed_bytes_sum{tenant="anonymous",type="process_cpu"} 1.2e+07
"""

CONFIG = """\
server:
  http_listen_port: 4040
limits:
  ingestion_rate_mb: 4
  ingestion_burst_size_mb: 2
  max_label_names_per_series: 30
  max_profile_size_bytes: 4194304
  max_profile_stacktrace_samples: 16000
  reject_older_than: 1h
  reject_newer_than: 10m
"""

RATE_LINE = (
    "[ERROR] Pyroscope::Session Sending Session failed 429 push rate limit (4.0 MiB) exceeded while adding 5.2 MiB"
)
WINDOW_LINE = (
    "[ERROR] Pyroscope::Session Sending Session failed 400 profile with labels '{service_name=\"backend\"}' is "
    "outside of ingestion window (profile timestamp: 1970-01-01T00:00:00.000Z, the ingestion window starts at "
    "2026-12-07T06:00:00.000Z and ends at 2026-12-07T07:10:00.000Z)"
)


def counted(**overrides: object) -> Outcome[PushRejections]:
    value = PushRejections(api="v1", discarded=discarded_from_metrics(METRICS), limits=limits_from_config(CONFIG))
    return Outcome(value=value.model_copy(update=overrides))


def test_the_metrics_give_each_reason_with_profiles_and_bytes_and_skip_zeroes() -> None:
    found = discarded_from_metrics(METRICS)
    assert [(d.reason, d.tenant, d.profiles, d.bytes) for d in found] == [
        ("rate_limited", "anonymous", 1234, 5452595.2),
        ("not_in_ingestion_window", "team-a", 3, 20480),
    ]


def test_the_running_config_gives_the_limits_by_their_names() -> None:
    limits = limits_from_config(CONFIG)
    assert limits["ingestion_rate_mb"] == "4" and limits["reject_older_than"] == "1h"
    assert limits_from_config("limits: [") == {} and limits_from_config("- a\n- b\n") == {}


def test_a_refusal_the_sdk_logged_names_its_limit_value_and_fix() -> None:
    [rate, window] = pipeline_findings("backend", counted(), [RATE_LINE])
    assert rate.check == "pushes refused: rate_limited" and rate.severity is Severity.CRITICAL
    assert "ingestion_rate_mb = 4, ingestion_burst_size_mb = 2" in rate.detail
    assert "raise limits.ingestion_rate_mb" in rate.detail and "push rate limit (4.0 MiB)" in rate.detail
    # What Pyroscope counted for another reason, not in this service's log, is told but not blamed.
    assert window.severity is Severity.WARNING and "tenant team-a" in window.detail
    assert "reject_older_than = 1h" in window.detail and "perhaps another service's" in window.detail


def test_a_1970_timestamp_is_read_as_a_clock_never_set() -> None:
    [finding, *_] = pipeline_findings("backend", counted(discarded=[]), [WINDOW_LINE])
    assert finding.check == "pushes refused: not_in_ingestion_window"
    assert "a 1970 timestamp is a clock never set" in finding.detail


def test_lines_are_read_by_pyroscopes_own_messages() -> None:
    assert reason_of(RATE_LINE) == "rate_limited"
    assert reason_of(WINDOW_LINE) == "not_in_ingestion_window"
    size = (
        "the profile with labels '{}' exceeds the size limit (max_profile_size_byte, actual: 5000000, limit: 4194304)"
    )
    assert reason_of(size) == "profile_size_limit"
    assert reason_of("curl: (22) The requested URL returned error: 413 request body too large") == (
        "body_size_limit_exceeded"
    )
    assert reason_of("INFO pushed a profile of 3 stacks to Pyroscope") is None


def test_an_sdk_failure_of_another_kind_is_shown_as_failing_quietly() -> None:
    line = "[ERROR] Pyroscope::Session Sending Session failed 502 Bad Gateway"
    [finding] = pipeline_findings("backend", counted(discarded=[]), [line])
    assert finding.check == "SDK push failures" and "keeps running" in finding.detail


def test_nothing_refused_is_said_and_a_server_without_counters_says_why() -> None:
    [ok] = pipeline_findings("backend", counted(discarded=[]), [])
    assert ok.severity is Severity.OK and ok.detail == "none counted by Pyroscope"
    v0 = Outcome(value=PushRejections(api="unsupported", discarded=[], note="a v0 server: refusals not counted"))
    [info] = pipeline_findings("backend", v0, [])
    assert info.severity is Severity.INFO and "v0" in info.detail
    [unread] = pipeline_findings("backend", Outcome(error=OperationError("Pyroscope did not answer")), [])
    assert unread.severity is Severity.WARNING and "not read" in unread.detail


def test_huge_counters_are_shown_in_units() -> None:
    big = [Discarded(reason="profile_size_limit", tenant="anonymous", profiles=2e9, bytes=3 * 1024**4)]
    [finding] = pipeline_findings("backend", counted(discarded=big), [])
    assert (
        "2,000,000,000 profiles (3.00 TiB)" in finding.detail and "max_profile_size_bytes = 4194304" in finding.detail
    )
