"""What Slack is sent stays inside Block Kit's limits (checked by the Slack stand-in's own
validator), and what came from outside can neither ping nor pass for a link."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.slack.render import render
from bot.slack.render.blocks import clip
from bot.slack.render.reports import report_lines
from bot.usecases.commands import Problem, Unparsed
from bot.usecases.content import DiagnosisPosted, HealthOverview, Offer, ProfileSummary
from handlers.findings import Finding, Remediation, Report, Severity
from profbot.ops import OpKind
from profbot.ops.pyroscope import CPU_PROFILE_TYPE, FlameProfile
from tests.rig.slack_standin import block_errors
from tests.standins.flamebearer import encode


def report(host: str, n: int, detail: str = "x") -> Report:
    return Report(
        procedure="HEALTH", title="t", host=host, finished_at=datetime.now(UTC),
        findings=[Finding(check=f"c{i}", severity=Severity.CRITICAL if i % 2 else Severity.OK, detail=detail)
                  for i in range(n)],
    )  # fmt: skip


def test_clip_keeps_the_limit_and_says_what_was_cut() -> None:
    text = "y" * 5000
    clipped = clip(text, 3000)
    assert len(clipped) <= 3000
    cut = int(clipped.rsplit("(", 1)[1].split()[0])
    assert len(clipped.split("…")[0]) + cut == 5000
    assert clip("short", 3000) == "short"


def test_health_for_sixty_hosts_fits_in_fifty_blocks() -> None:
    msg = render(HealthOverview([report(f"h{i}", 2) for i in range(60)], "U1")).as_kwargs()
    assert block_errors(msg["blocks"]) == []
    assert len(msg["blocks"]) == 50
    assert "more blocks not shown" in msg["blocks"][-1]["elements"][0]["text"]


def test_a_huge_finding_is_cut_not_refused() -> None:
    msg = render(HealthOverview([report("h", 3, detail="z" * 4000)])).as_kwargs()
    assert block_errors(msg["blocks"]) == []
    assert "more characters cut" in msg["blocks"][1]["text"]["text"]


def test_findings_are_listed_most_severe_first() -> None:
    lines = report_lines(report("h", 4)).splitlines()
    assert [line.split()[0] for line in lines] == [":red_circle:"] * 2 + [":white_check_mark:"] * 2


def test_headline_counts_failing_checks() -> None:
    assert render(HealthOverview([report("h", 4)])).text.startswith("Pyroscope health: 2 failing checks")
    ok = Report(procedure="HEALTH", title="t", host="h", finished_at=datetime.now(UTC),
                findings=[Finding(check="a", severity=Severity.OK, detail="fine")])  # fmt: skip
    assert render(HealthOverview([ok])).text.startswith("Pyroscope health: all checks pass")


def test_unknown_command_is_quoted_short() -> None:
    msg = render(Unparsed(problem=Problem.UNKNOWN_COMMAND, given="x" * 500))
    assert block_errors(msg.as_kwargs()["blocks"]) == []
    assert "more characters cut" in msg.text


def test_text_from_containers_cannot_ping_or_fake_links() -> None:
    r = Report(procedure="HEALTH", title="t", host="h", finished_at=datetime.now(UTC),
               findings=[Finding(check="container x", severity=Severity.CRITICAL,
                                 detail="unhealthy: <!channel> see <http://evil.example|the fix> & more")])  # fmt: skip
    message = render(HealthOverview([r]))
    text = message.as_kwargs()["blocks"][1]["text"]["text"]
    assert "<!channel>" not in text and "<!channel>" not in message.text
    assert "&lt;!channel&gt;" in text
    assert "&lt;http://evil.example|the fix&gt; &amp; more" in text


def test_a_remediation_button_carries_the_offer_id_only() -> None:
    remedy = Remediation(procedure="INC-PROF-004", action="purge", label="Delete volume pyroscope_data",
                         kind=OpKind.DESTROY, impact="WARNING", host="h", target="pyroscope_data")  # fmt: skip
    offer = Offer("ab" * 16, remedy)
    blocks = render(DiagnosisPosted(report("h", 1), [offer], "U1")).as_kwargs()["blocks"]
    [button] = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert button == {
        "type": "button", "text": {"type": "plain_text", "text": "Delete volume pyroscope_data (destroy)",
                                   "emoji": True},
        "action_id": "remediate:INC-PROF-004:purge", "value": "ab" * 16, "style": "danger",
    }  # fmt: skip


def test_a_profiles_function_names_can_neither_ping_nor_break_the_table() -> None:
    hostile = {"main;<!channel> reset your SSO": 50, "main;<https://evil.example|click>": 30, "main;" + "&" * 4000: 20}
    bearer = encode(hostile)
    profile = FlameProfile(
        service="backend", profile_type=CPU_PROFILE_TYPE, start=0, end=900, num_ticks=bearer["numTicks"],
        max_self=bearer["maxSelf"], names=bearer["names"], levels=bearer["levels"], ui_url="http://p:4040/?a=1&b=2",
    )  # fmt: skip

    message = render(ProfileSummary(profile))
    kwargs = message.as_kwargs()

    assert block_errors(kwargs["blocks"]) == []
    section = kwargs["blocks"][0]["text"]["text"]
    for said in (kwargs["text"], section):
        assert "<!channel>" not in said and "<https://evil" not in said
        assert "&lt;!channel&gt;" in said
    assert section.endswith("```")  # the cut kept the closing fence


HOSTILE = "<!channel> <https://evil.example|reset your SSO>"


def _everything_sent(message: dict) -> str:
    """The notification text and every mrkdwn text of the blocks: where Slack parses `<!...>` and
    `<url|label>` (plain_text, a header's or a button's, shows them as typed)."""
    found = [str(message.get("text", ""))]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(str(node.get("text", "")))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(message.get("blocks", []))
    return "\n".join(found)


def test_outside_names_in_a_freshness_report_neither_ping_nor_link() -> None:
    from handlers.context import Outcome
    from handlers.fleet import Profiled, freshness_report
    from profbot.ops.pyroscope import Freshness

    # A service name Pyroscope has seen (a label value anyone who can push may set), and one expected.
    seen = Freshness(api="v1", services=[], seen_services=[HOSTILE], minutes=5)
    profiled = [Profiled(host="h1", container="backend", service="backend", status="running")]
    report = freshness_report(profiled, Outcome(value=seen), pyroscope_host="h1")
    for content in (DiagnosisPosted(report=report, offers=[]), HealthOverview([report], "U1", profiles=report)):
        sent = _everything_sent(render(content).as_kwargs())
        assert "<!channel>" not in sent
        assert "<https://evil" not in sent
        assert "&lt;!channel&gt;" in sent  # still said, as text


def test_outside_words_in_change_messages_neither_ping_nor_link() -> None:
    from bot.usecases.content import AlreadyRequested, CooldownReached, TypedNameWrong, Verified
    from tests.unit.test_change_targets import HOLDER

    request = HOLDER.model_copy(update={"label": f"Restart {HOSTILE}", "target": HOSTILE})
    contents = [
        request,
        AlreadyRequested(request),
        CooldownReached(label=request.label, target=HOSTILE, host="h1", count=3, per_hour=3),
        TypedNameWrong(expected=HOSTILE),
        Verified(request, Finding(check="c", severity=Severity.OK, detail="d")),
        Unparsed(given=HOSTILE, problem=Problem.UNKNOWN_COMMAND),
    ]
    for content in contents:
        sent = _everything_sent(render(content).as_kwargs())
        assert "<!channel>" not in sent, type(content).__name__
        assert "<https://evil" not in sent, type(content).__name__


def test_offers_past_slacks_25_buttons_are_shown_in_rows_and_the_rest_are_counted_not_dropped() -> None:
    def offer(n: int) -> Offer:
        remedy = Remediation(procedure="INC-PROF-002", action="restart", label=f"Restart profiler-{n}",
                             kind=OpKind.CHANGE, impact="brief gap", host="h", target=f"profiler-{n}")  # fmt: skip
        return Offer(f"{n:032x}", remedy)

    some = render(DiagnosisPosted(report("h", 1), [offer(n) for n in range(30)], "U1")).as_kwargs()["blocks"]
    assert block_errors(some) == []
    assert [len(b["elements"]) for b in some if b["type"] == "actions"] == [25, 5]

    many = render(DiagnosisPosted(report("h", 1), [offer(n) for n in range(130)], "U1")).as_kwargs()["blocks"]
    assert block_errors(many) == []
    assert sum(len(b["elements"]) for b in many if b["type"] == "actions") == 100
    said = " ".join(e["text"] for b in many if b["type"] == "context" for e in b["elements"])
    assert "30 more actions" in said and "`profbot shell` lists all 130" in said
