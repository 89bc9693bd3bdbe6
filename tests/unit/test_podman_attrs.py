"""podman's inspect documents, as podman 4.x and 5.x write them, mapped to ContainerState."""

from __future__ import annotations

from datetime import UTC, datetime

from runner.podman_gateway import container_state_from_attrs, parse_podman_time

PODMAN_43_EXITED = {
    "Id": "3ffe70c5929d", "Name": "pyroscope", "ImageName": "localhost/standin:latest", "RestartCount": 1,
    "State": {"Status": "exited", "Running": False, "ExitCode": 137, "OOMKilled": False,
              "StartedAt": "2026-11-25T17:41:14.161595069Z", "FinishedAt": "2026-11-25T17:41:20.055790134Z",
              "Health": {"Status": "", "FailingStreak": 0, "Log": None}},
    "Config": {"Image": "localhost/standin:latest"},
}  # fmt: skip

# podman 4.0-4.2 named the health document "Healthcheck"; 5.x names it "Health".
PODMAN_42_UNHEALTHY = {
    "Id": "9a", "Name": "/pyroscope", "RestartCount": 0,
    "State": {"Status": "running", "Running": True, "ExitCode": 0, "OOMKilled": False,
              "StartedAt": "2026-11-25T17:41:14Z", "FinishedAt": "0001-01-01T00:00:00Z",
              "Healthcheck": {"Status": "unhealthy", "FailingStreak": 4,
                              "Log": [{"ExitCode": 1, "Output": "ingester not ready\\n"}]}},
    "Config": {"Image": "grafana/pyroscope:1.18.0", "Healthcheck": {"Test": ["CMD", "true"]}},
}  # fmt: skip


def test_exited_container_from_podman_43() -> None:
    s = container_state_from_attrs(PODMAN_43_EXITED)
    assert (s.status, s.running, s.exit_code, s.restart_count) == ("exited", False, 137, 1)
    assert s.health is None and not s.healthcheck_defined
    assert s.finished_at == datetime(2026, 11, 25, 17, 41, 20, 55790, tzinfo=UTC)


def test_unhealthy_container_with_the_older_health_key() -> None:
    s = container_state_from_attrs(PODMAN_42_UNHEALTHY)
    assert s.name == "pyroscope"
    assert s.image == "grafana/pyroscope:1.18.0"
    assert (s.health, s.health_failing_streak) == ("unhealthy", 4)
    assert s.health_last_output == "ingester not ready\\n".strip()
    assert s.healthcheck_defined
    assert s.finished_at is None


def test_podman_times() -> None:
    assert parse_podman_time("0001-01-01T00:00:00Z") is None
    assert parse_podman_time("") is None
    assert parse_podman_time("2026-11-25T17:41:14.161595069+01:00") == datetime.fromisoformat(
        "2026-11-25T17:41:14.161595+01:00"
    )
    assert parse_podman_time("garbage") is None


def test_the_host_ports_a_container_publishes() -> None:
    attrs = {
        **PODMAN_43_EXITED,
        "NetworkSettings": {"Ports": {"4040/tcp": [{"HostIp": "", "HostPort": "14040"}], "9095/tcp": None,
                                      "7946/udp": [{"HostIp": "127.0.0.1", "HostPort": "17946"}]}},
    }  # fmt: skip
    assert container_state_from_attrs(attrs).published_ports == [14040, 17946]
    assert container_state_from_attrs(PODMAN_43_EXITED).published_ports == []
