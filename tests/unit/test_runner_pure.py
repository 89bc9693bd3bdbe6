"""The runner's pure pieces: redaction and bounds, df parsing, .env editing, retention edits."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from profbot.errors import InvalidArgument, OperationError
from runner import pyroscope_config, safe_files
from runner.compose import set_env_file_var
from runner.operations.containers import parse_df
from runner.operations.inside_containers import program_names
from runner.redaction import REDACTED, bounded_text, redact, redact_env_value


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("SLACK_BOT_TOKEN=xoxb-1234-abcd starting", "xoxb-1234-abcd"),
        ("Authorization: Bearer eyJhbGciOi.payload.sig", "eyJhbGciOi.payload.sig"),
        ("curl -s http://admin:hunter2@localhost:3002/api/datasources", "hunter2"),
        ('{"api_key": "k-123"}', "k-123"),
        ("db_password=s3cr3t&user=app", "s3cr3t"),
        ("AWS_SECRET_ACCESS_KEY: wJalrXUtnFEMI", "wJalrXUtnFEMI"),
        ('password = "two words" end', "two words"),
        ("py-spy record --auth-token abc123 --pid 1", "abc123"),
        ("Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
    ],
)
def test_secrets_are_redacted(text: str, secret: str) -> None:
    out, count = redact(text)
    assert secret not in out
    assert REDACTED in out
    assert count == 1


@pytest.mark.parametrize(
    "text",
    [
        "INFO Pyroscope profiling initialized; PYROSCOPE_ENABLED=true PROFILE_INTERVAL=30",
        "ERROR duplicate primary key constraint violated",
        "py-spy record --format speedscope --duration 30 --nonblocking --pid 1",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) == (text, 0)


def test_env_values_of_secret_names_are_always_redacted() -> None:
    assert redact_env_value("HF_TOKEN", "hf_abc") == REDACTED
    assert redact_env_value("PYROSCOPE_URL", "http://u:p@pyroscope:4040") == f"http://u:{REDACTED}@pyroscope:4040"
    assert redact_env_value("SERVICE_NAME", "ai-yolo26") == "ai-yolo26"


def test_bounds_keep_the_last_lines_of_logs_and_count_the_rest() -> None:
    out = bounded_text("\n".join(f"line {i}" for i in range(1000)), max_lines=100)
    assert out.lines[0] == "line 900"
    assert out.lines[-1] == "line 999"
    assert out.omitted_lines == 900


def test_bounds_keep_the_first_lines_of_files() -> None:
    out = bounded_text("\n".join(f"line {i}" for i in range(10)), max_lines=3, keep="first")
    assert out.lines == ["line 0", "line 1", "line 2"]
    assert out.omitted_lines == 7


def test_bytes_bound_applies_after_lines() -> None:
    out = bounded_text("\n".join("x" * 99 for _ in range(100)), max_lines=500, max_bytes=1000)
    assert len(out.lines) == 10
    assert out.omitted_lines == 90
    assert out.omitted_bytes == 9000


def test_a_ten_megabyte_line_is_cut() -> None:
    out = bounded_text("y" * 10_000_000)
    assert len(out.lines) == 1
    assert len(out.lines[0]) <= 2001


def test_parse_df_posix_output() -> None:
    usage = parse_df(
        "pyroscope",
        "/data",
        "Filesystem     1024-blocks      Used Available Capacity Mounted on\n"
        "/dev/vdb         10255636   9742340    513296      95% /data\n",
    )
    assert usage.size_bytes == 10255636 * 1024
    assert usage.used_bytes == 9742340 * 1024
    assert usage.use_percent == 95.0


def test_parse_df_refuses_what_it_does_not_understand() -> None:
    with pytest.raises(OperationError):
        parse_df("c", "/data", "df: /data: No such file or directory\n")


def test_env_file_edit_replaces_every_assignment_and_keeps_the_rest(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("# comment\nPYROSCOPE_ENABLED=true\nOTHER=1\nexport PYROSCOPE_ENABLED=true\n")
    set_env_file_var(env, "PYROSCOPE_ENABLED", "false")
    assert env.read_text() == "# comment\nOTHER=1\nPYROSCOPE_ENABLED=false\n"


RUNBOOK = "analytics-opt-out: true\nstorage:\n  path: /data\nretention-period: 15d\n"


def test_runbook_retention_reads_as_invalid_on_v1() -> None:
    setting = pyroscope_config.read_retention(RUNBOOK, major=1)
    assert not setting.valid_for_running_version
    assert "retention-period" in setting.explanation


def test_runbook_retention_reads_as_valid_on_v0() -> None:
    setting = pyroscope_config.read_retention(RUNBOOK, major=0)
    assert setting.valid_for_running_version
    assert setting.value == "15d"


def test_v1_without_a_bucket_refuses_and_says_what_would_work() -> None:
    with pytest.raises(InvalidArgument, match=r"configure storage\.backend"):
        pyroscope_config.set_retention(RUNBOOK, "7d", major=1)


def test_v1_with_a_bucket_drops_v0_keys_and_sets_the_limit() -> None:
    config = RUNBOOK.replace("  path: /data\n", "  path: /data\n  backend: s3\n")
    text, what = pyroscope_config.set_retention(config, "7d", major=1)
    data = pyroscope_config.load(text)
    assert data["limits"]["compactor_blocks_retention_period"] == "7d"
    assert "retention-period" not in data
    assert "analytics-opt-out" not in data
    assert data["storage"] == {"backend": "s3"}
    assert what == (
        "set limits.compactor_blocks_retention_period: 7d (was unset); removed v0 keys v1 refuses: "
        "retention-period, analytics-opt-out, storage.path"
    )


@pytest.mark.parametrize(
    ("command", "match", "counted"),
    [
        ("/bin/sh /standins/pyroscope-profiler.sh ai-yolo26 http://pyroscope:4040 30", "pyroscope", True),
        ("/usr/local/bin/py-spy record --format speedscope --pid 1 -o /tmp/p.json", "py-spy", True),
        ("bash -x /scripts/pyroscope-profiler.sh backend", "pyroscope", True),
        # The runner's own SDK probe, seen while a diagnosis runs: not a profiler.
        ("python3 -c import sys, importlib.metadata as m pyroscope-io", "pyroscope", False),
        ("/usr/bin/python3 /standins/backend_standin.py PYROSCOPE_URL=http://pyroscope:4040", "pyroscope", False),
        ("grep py-spy", "py-spy", False),
        ("", "pyroscope", False),
    ],
)
def test_process_match_is_on_the_program_not_its_arguments(command: str, match: str, counted: bool) -> None:
    assert any(match in name for name in program_names(command)) is counted


ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
GRAFANA_UID = 472  # the Grafana image's user


@ROOT_ONLY
def test_a_rewritten_file_keeps_its_owner_and_mode(tmp_path: Path) -> None:
    provisioning = tmp_path / "pyroscope.yml"
    provisioning.write_text("old\n")
    os.chown(provisioning, GRAFANA_UID, GRAFANA_UID)
    provisioning.chmod(0o640)
    safe_files.write_atomic(provisioning, "new\n")
    st = provisioning.stat()
    assert provisioning.read_text() == "new\n"
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (GRAFANA_UID, GRAFANA_UID, 0o640)
    backup = safe_files.backup(provisioning)
    assert (backup.stat().st_uid, backup.stat().st_mode & 0o7777) == (GRAFANA_UID, 0o640)


@ROOT_ONLY
def test_a_new_file_is_readable_by_whoever_owns_its_directory(tmp_path: Path) -> None:
    directory = tmp_path / "provisioning"
    directory.mkdir()
    os.chown(directory, GRAFANA_UID, GRAFANA_UID)
    target = directory / "pyroscope.yml"
    safe_files.write_atomic(target, "datasources: []\n")
    st = target.stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (GRAFANA_UID, GRAFANA_UID, 0o644)


def test_a_new_env_file_is_private_to_its_owner(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    set_env_file_var(env, "PYROSCOPE_ENABLED", "false")
    assert env.stat().st_mode & 0o777 == 0o600
