"""Messages stay inside Block Kit's limits, checked by the Slack stand-in's own validator."""

from __future__ import annotations

from datetime import UTC, datetime

from bot import messages
from handlers.findings import Finding, Report, Severity
from tests.rig.slack_standin import block_errors


def report(host: str, n: int, detail: str = "x") -> Report:
    return Report(
        procedure="HEALTH", title="t", host=host, finished_at=datetime.now(UTC),
        findings=[Finding(check=f"c{i}", severity=Severity.CRITICAL if i % 2 else Severity.OK, detail=detail)
                  for i in range(n)],
    )  # fmt: skip


def test_clip_keeps_the_limit_and_says_what_was_cut() -> None:
    text = "y" * 5000
    clipped = messages.clip(text, 3000)
    assert len(clipped) <= 3000
    cut = int(clipped.rsplit("(", 1)[1].split()[0])
    assert len(clipped.split("…")[0]) + cut == 5000
    assert messages.clip("short", 3000) == "short"


def test_health_for_sixty_hosts_fits_in_fifty_blocks() -> None:
    msg = messages.health_message([report(f"h{i}", 2) for i in range(60)], "U1").as_kwargs()
    assert block_errors(msg["blocks"]) == []
    assert len(msg["blocks"]) == 50
    assert "more blocks not shown" in msg["blocks"][-1]["elements"][0]["text"]


def test_a_huge_finding_is_cut_not_refused() -> None:
    msg = messages.health_message([report("h", 3, detail="z" * 4000)], None).as_kwargs()
    assert block_errors(msg["blocks"]) == []
    assert "more characters cut" in msg["blocks"][1]["text"]["text"]


def test_findings_are_listed_most_severe_first() -> None:
    text = messages.report_lines(report("h", 4))
    lines = text.splitlines()
    assert [line.split()[0] for line in lines] == [":red_circle:"] * 2 + [":white_check_mark:"] * 2


def test_headline_counts_failing_checks() -> None:
    assert messages.health_message([report("h", 4)], None).text.startswith("Pyroscope health: 2 failing checks")
    ok = Report(procedure="HEALTH", title="t", host="h", finished_at=datetime.now(UTC),
                findings=[Finding(check="a", severity=Severity.OK, detail="fine")])  # fmt: skip
    assert messages.health_message([ok], None).text.startswith("Pyroscope health: all checks pass")


def test_unknown_command_is_quoted_short() -> None:
    msg = messages.unknown_command("/prof", "x" * 500)
    assert block_errors(msg.as_kwargs()["blocks"]) == []
    assert "more characters cut" in msg.text


def test_text_from_containers_cannot_ping_or_fake_links() -> None:
    r = Report(procedure="HEALTH", title="t", host="h", finished_at=datetime.now(UTC),
               findings=[Finding(check="container x", severity=Severity.CRITICAL,
                                 detail="unhealthy: <!channel> see <http://evil.example|the fix> & more")])  # fmt: skip
    text = messages.health_message([r], None).as_kwargs()["blocks"][1]["text"]["text"]
    assert "<!channel>" not in text
    assert "&lt;!channel&gt;" in text
    assert "&lt;http://evil.example|the fix&gt; &amp; more" in text
