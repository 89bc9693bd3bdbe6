"""The fleet-wide reads as use cases on fakes: freshness against the services every host expects,
its health summary, `diagnose overhead` and `diagnose no-data` without a service, and `/prof ui`."""

from __future__ import annotations

from typing import Any

from bot.shell.render import text
from bot.slack.render import render
from bot.usecases.commands import Diagnose, DiagnoseEverywhere, Freshness, Health, Problem, Ui, Unparsed, parse
from bot.usecases.content import DiagnosisPosted, HealthOverview, NoHostFor, QuickLinks
from handlers.findings import Report, Severity
from profbot.ops import OpKind
from profbot.ops.containers import ContainerList, ContainerSummary, EnvResult, ProcessInfo, ProcessList
from profbot.ops.pyroscope import Freshness as FreshnessResult
from profbot.ops.pyroscope import ServiceFreshness
from tests.rig.slack_standin import block_errors
from tests.unit.world import HOST, World, make_world

HOST_2 = "podhost-2"


def summary(
    name: str, *, label: str | None = None, env: str | None = None, status: str = "running"
) -> ContainerSummary:
    return ContainerSummary(name=name, id=f"{name}-id", service=label, compose_service=name, status=status,
                            health=None, service_name=env)  # fmt: skip


def fleet_world(seen: list[str], *, on_2: list[ContainerSummary] | None = None) -> World:
    """podhost-1 runs pyroscope, backend and ai-yolo26 (both profiled); podhost-2 runs ai-clip
    (profiled, its name from SERVICE_NAME only); Pyroscope has seen ``seen`` in the window."""
    world = make_world()
    second = on_2 if on_2 is not None else [summary("ai-clip", env="clip")]
    world.bus.hosts[HOST_2] = [c.name for c in second]
    world.bus.answers_on[(HOST, "containers.profiled")] = ContainerList(
        containers=[summary("ai-yolo26", label="ai-yolo26"), summary("backend", label="backend")]
    )
    world.bus.answers_on[(HOST_2, "containers.profiled")] = ContainerList(containers=second)
    world.bus.answer(
        "pyroscope.freshness",
        lambda op: FreshnessResult(api="v1", minutes=op.minutes, seen_services=sorted(seen),
                                   services=[ServiceFreshness(service=s, has_data=s in seen) for s in op.services]),
    )  # fmt: skip
    return world


def spies(*cpus: float) -> Any:
    return lambda op: ProcessList(container=op.container, match="py-spy", processes=[
        ProcessInfo(pid=10 + i, user="root", cpu_percent=c, elapsed="1m", command="py-spy record --pid 1")
        for i, c in enumerate(cpus)])  # fmt: skip


def posted_reports(world: World) -> list[Report]:
    return [
        s.content.report for s in world.people.of(DiagnosisPosted, "post") if isinstance(s.content, DiagnosisPosted)
    ]


async def test_freshness_flags_an_expected_service_without_data_with_its_host_container_and_a_button() -> None:
    world = fleet_world(seen=["backend", "cron-job", "profbot-canary"])  # the canary is profbot's own

    await world.profbot.run(await world.asker(), Freshness())

    [report] = posted_reports(world)
    by_check = {f.check: f for f in report.findings}
    assert by_check["ai-yolo26"].severity is Severity.CRITICAL
    assert "container ai-yolo26 on podhost-1" in by_check["ai-yolo26"].detail
    # Named by its SERVICE_NAME (no pyroscope.service label), on the other host.
    assert (
        by_check["clip"].severity is Severity.CRITICAL and "container ai-clip on podhost-2" in by_check["clip"].detail
    )
    assert by_check["with data"].severity is Severity.OK
    assert "2 services" in by_check["with data"].detail and "1 of them from no labelled container" in by_check[
        "with data"].detail  # fmt: skip
    assert report.summary().startswith("2 of 4 services sent no profiles")
    assert [(r.action, r.kind, r.host, r.target) for r in report.remediations] == [
        ("diagnose", OpKind.READ, HOST, "ai-yolo26"),
        ("diagnose", OpKind.READ, HOST_2, "ai-clip"),  # by service name: "clip"
    ]
    # One question to Pyroscope for every service; one list per host.
    assert len(world.bus.ran("pyroscope.freshness")) == 1
    assert sorted(c.host for c in world.bus.ran("containers.profiled")) == [HOST, HOST_2]


async def test_the_diagnose_button_runs_inc_prof_003_on_the_containers_host() -> None:
    world = fleet_world(seen=["backend", "ai-yolo26"])
    await world.profbot.run(await world.asker(), Freshness())
    [posted] = world.people.of(DiagnosisPosted, "post")
    assert isinstance(posted.content, DiagnosisPosted)
    [offer] = posted.content.offers
    assert offer.remediation.label == "Diagnose ai-clip"
    world.people.said.clear()
    world.bus.calls.clear()

    await world.profbot.requests.remediate(await world.asker(), offer.id)

    [report] = posted_reports(world)
    assert report.procedure == "INC-PROF-003" and report.host == HOST_2
    assert {c.host for c in world.bus.calls} == {HOST_2}


async def test_all_fresh_says_so_and_offers_nothing() -> None:
    world = fleet_world(seen=["backend", "ai-yolo26", "clip"])
    await world.profbot.run(await world.asker(), Freshness())
    [report] = posted_reports(world)
    assert report.verdict is Severity.OK and report.remediations == []
    assert report.summary() == "All 3 services sent profiles in the last 5 min"


async def test_freshness_of_one_service_that_nothing_expects_and_pyroscope_never_saw() -> None:
    world = fleet_world(seen=["backend"])
    await world.profbot.run(await world.asker(), Freshness(service="ghost"))
    [report] = posted_reports(world)
    [finding] = report.findings
    assert finding.check == "ghost" and finding.severity is Severity.WARNING
    assert "no labelled container runs it" in finding.detail and report.remediations == []


async def test_two_hundred_services_take_one_pyroscope_query_and_offer_a_bounded_number_of_buttons() -> None:
    many = [summary(f"svc-{i:03d}", label=f"svc-{i:03d}") for i in range(200)]
    seen = [f"svc-{i:03d}" for i in range(0, 200, 2)]  # every other one has data
    world = fleet_world(seen=seen, on_2=many)

    await world.profbot.run(await world.asker(), Freshness())

    [report] = posted_reports(world)
    assert len(world.bus.ran("pyroscope.freshness")) == 1
    assert report.summary().startswith("102 of 202 services sent no profiles")  # + ai-yolo26 and backend
    assert len(report.remediations) == 10
    assert any(f.check == "and more" and "72 more" in f.detail for f in report.findings)


async def test_health_summarises_the_services_without_data() -> None:
    world = fleet_world(seen=["backend"])
    await world.profbot.run(await world.asker(), Health())
    [said] = world.people.said
    assert isinstance(said.content, HealthOverview)
    profiles = said.content.profiles
    assert profiles is not None and profiles.verdict is Severity.CRITICAL
    assert {f.check for f in profiles.findings if f.severity is Severity.CRITICAL} == {"ai-yolo26", "clip"}
    assert said.content.reports[0].verdict is Severity.OK  # Pyroscope itself is fine


async def test_freshness_without_a_pyroscope_host_says_so_and_asks_nothing() -> None:
    world = fleet_world(seen=[])
    world.bus.hosts[HOST].remove("pyroscope")
    await world.profbot.run(await world.asker(), Freshness())
    [said] = world.people.said
    assert said.content == NoHostFor("pyroscope")
    assert world.bus.ran("pyroscope.freshness") == []


# ---------------------------------------------------------------------------- diagnose without a service


def test_overhead_and_no_data_without_a_service_parse_as_fleet_wide() -> None:
    assert parse("diagnose overhead") == DiagnoseEverywhere(procedure="INC-PROF-002")
    assert parse("diagnose no-data") == DiagnoseEverywhere(procedure="INC-PROF-003")
    bad = parse("ui a;b")
    assert isinstance(bad, Unparsed) and bad.problem is Problem.BAD_NAME


async def test_overhead_everywhere_ranks_worst_first_with_remediations_for_those_over_five_percent() -> None:
    world = fleet_world(seen=[])
    world.bus.answers_on[(HOST, "container.processes")] = lambda op: spies(12.0)(op) if op.container == "ai-yolo26" \
        else spies()(op)  # fmt: skip
    world.bus.answers_on[(HOST_2, "container.processes")] = spies(2.0, 1.5)
    world.bus.answer("container.env", lambda op: EnvResult(container=op.container, values={"PROFILE_INTERVAL": "45"}))

    await world.profbot.run(await world.asker(), parse("diagnose overhead"))  # type: ignore[arg-type]

    [report] = posted_reports(world)
    ranked = [f.check for f in report.findings]
    assert ranked == ["ai-yolo26 on podhost-1", "clip (ai-clip on podhost-2)", "backend on podhost-1"]
    assert report.findings[0].severity is Severity.CRITICAL and "12.0 %" in report.findings[0].detail
    assert report.findings[1].severity is Severity.WARNING  # 3.5 %: above 1-3 %, under the alert
    assert [(r.action, r.target, r.params.get("profile_interval")) for r in report.remediations] == [
        ("raise-interval", "ai-yolo26", 90), ("disable-service", "ai-yolo26", None)]  # fmt: skip
    assert "1 of 2 py-spy-profiled services over the 5 % alert threshold" in report.summary()
    assert [c.operation.container for c in world.bus.ran("container.env")] == ["ai-yolo26"]  # type: ignore[attr-defined]


async def test_most_services_over_the_threshold_offer_disabling_profiling_globally() -> None:
    world = fleet_world(seen=[])
    world.bus.answer("container.processes", spies(9.0))
    world.bus.answer("container.env", lambda op: EnvResult(container=op.container, values={}))

    await world.profbot.run(await world.asker(), DiagnoseEverywhere(procedure="INC-PROF-002"))

    [report] = posted_reports(world)
    globals_ = [r for r in report.remediations if r.action == "disable-global"]
    assert [(r.host, r.label, r.kind) for r in globals_] == [
        (HOST, "Disable profiling everywhere", OpKind.CHANGE),
        (HOST_2, "Disable profiling everywhere", OpKind.CHANGE),
    ]
    assert "most are over it" in report.summary()


async def test_no_data_everywhere_diagnoses_each_expected_service_without_data_on_its_host() -> None:
    world = fleet_world(seen=["backend"])

    await world.profbot.run(await world.asker(), DiagnoseEverywhere(procedure="INC-PROF-003"))

    reports = posted_reports(world)
    assert reports[0].title == "Profile freshness, every host"
    assert sorted((r.title.split(" (")[0], r.host) for r in reports[1:]) == [
        ("No profiles from ai-clip", HOST_2), ("No profiles from ai-yolo26", HOST)]  # fmt: skip


async def test_a_named_service_still_gets_its_own_diagnosis() -> None:
    world = fleet_world(seen=[])
    world.bus.answer("container.processes", spies(1.0))
    await world.profbot.run(await world.asker(), Diagnose(procedure="INC-PROF-002", argument="ai-yolo26"))
    [report] = posted_reports(world)
    assert report.title == "Profiling overhead on ai-yolo26"
    assert world.bus.ran("containers.profiled") == []


# ---------------------------------------------------------------------------- the Quick Reference


async def test_ui_gives_both_links_for_a_service_without_credentials() -> None:
    world = make_world()
    world.bus.heartbeat = {"pyroscope_ui_url": "https://ops:hunter2@pyro.example.com/?token=x",
                           "grafana_ui_url": "https://grafana.example.com/"}  # fmt: skip

    await world.profbot.run(await world.asker(), Ui(service="ai-yolo26"))

    [said] = world.people.said
    links = said.content
    assert isinstance(links, QuickLinks) and links.host == HOST
    assert links.pyroscope is not None and links.pyroscope.startswith("https://pyro.example.com/?query=process_cpu")
    assert "service_name%3D%22ai-yolo26%22" in links.pyroscope
    assert "hunter2" not in links.pyroscope and "token" not in links.pyroscope
    assert links.grafana_explore is not None
    assert links.grafana_explore.startswith("https://grafana.example.com/explore?orgId=1&left=")
    assert "ai-yolo26" in links.grafana_explore and "Pyroscope" in links.grafana_explore


async def test_ui_without_addresses_from_the_runner_says_which_is_missing() -> None:
    world = make_world()
    await world.profbot.run(await world.asker(), Ui())
    [said] = world.people.said
    assert said.content == QuickLinks(service=None, pyroscope=None, grafana_explore=None, host=HOST)


# ---------------------------------------------------------------------------- as people see it


async def test_the_reports_and_links_render_within_slacks_limits_and_in_the_terminal() -> None:
    many = [summary(f"svc-{i:03d}", label=f"svc-{i:03d}") for i in range(200)]
    world = fleet_world(seen=[], on_2=many)
    world.bus.heartbeat = {"pyroscope_ui_url": "http://pyro:4040", "grafana_ui_url": "http://grafana:3000"}
    await world.profbot.run(await world.asker(), Freshness())
    await world.profbot.run(await world.asker(), Health())
    await world.profbot.run(await world.asker(), Ui(service="svc-001"))
    for said in world.people.said:
        message = render(said.content).as_kwargs()
        assert block_errors(message["blocks"]) == [], type(said.content)
        assert text(said.content)
    health = next(s.content for s in world.people.said if isinstance(s.content, HealthOverview))
    assert "*Profiles*: 202 of 202 services sent no profiles" in str(render(health).as_kwargs()["blocks"])
    assert "profiles: CRITICAL: 202 of 202 services" in text(health)
    links = next(s.content for s in world.people.said if isinstance(s.content, QuickLinks))
    shown = render(links).as_kwargs()
    assert [b["elements"][0]["url"] for b in shown["blocks"] if b["type"] == "actions"] == [
        links.pyroscope, links.grafana_explore]  # fmt: skip
    assert "Grafana Explore: http://grafana:3000/explore?" in text(links)


async def test_health_says_the_profiles_were_not_checked_when_no_runner_has_pyroscope() -> None:
    world = fleet_world(seen=["backend"])
    world.bus.hosts[HOST].remove("pyroscope")
    await world.profbot.run(await world.asker(), Health(host=HOST))
    [said] = world.people.said
    assert isinstance(said.content, HealthOverview) and said.content.profiles is not None
    [finding] = said.content.profiles.findings
    assert (finding.severity, finding.detail) == (
        Severity.INFO, "not checked: no runner reports a `pyroscope` container right now")  # fmt: skip
    assert world.bus.ran("pyroscope.freshness") == []


# ---------------------------------------------------------------------------- edges: names, load, one host, links


async def test_freshness_of_a_container_by_its_name_is_of_the_service_it_runs_as() -> None:
    world = fleet_world(seen=["web"], on_2=[summary("web-1", label="web")])
    await world.profbot.run(await world.asker(), Freshness(service="web-1"))
    [report] = posted_reports(world)
    [finding] = report.findings
    assert (finding.check, finding.severity) == ("with data", Severity.OK) and finding.detail.endswith(": web")
    assert report.summary() == "All 1 services sent profiles in the last 5 min"
    assert report.title == "Profile freshness of web-1"

    world = fleet_world(seen=[], on_2=[summary("web-1", label="web")])
    await world.profbot.run(await world.asker(), Freshness(service="web-1"))
    [report] = posted_reports(world)
    [finding] = report.findings
    assert (finding.check, finding.severity) == ("web", Severity.CRITICAL)
    assert "container web-1 on podhost-2" in finding.detail


async def test_overhead_everywhere_keeps_a_hosts_jobs_in_flight_within_the_runners_concurrency() -> None:
    world = fleet_world(seen=[], on_2=[summary(f"svc-{i:02d}", label=f"svc-{i:02d}") for i in range(50)])
    world.bus.interleave = True  # calls overlap as real ones do
    world.bus.answer("container.processes", spies(9.0))  # every one over 5 %: a second job each
    world.bus.answer("container.env", lambda op: EnvResult(container=op.container, values={}))

    await world.profbot.run(await world.asker(), DiagnoseEverywhere(procedure="INC-PROF-002"))

    [report] = posted_reports(world)
    assert world.bus.most_in_flight[HOST_2] == 8  # bounded, yet concurrent
    assert len([c for c in world.bus.ran("container.env") if c.host == HOST_2]) == 50
    assert report.summary().startswith("52 of 52 py-spy-profiled services over the 5 % alert threshold")


async def test_overhead_everywhere_does_not_ask_a_container_that_is_not_running() -> None:
    world = fleet_world(seen=[], on_2=[summary("ai-clip", env="clip", status="exited")])
    world.bus.answer("container.processes", spies(1.0))

    await world.profbot.run(await world.asker(), DiagnoseEverywhere(procedure="INC-PROF-002"))

    [report] = posted_reports(world)
    assert {c.host for c in world.bus.ran("container.processes")} == {HOST}
    clip = next(f for f in report.findings if f.check == "clip (ai-clip on podhost-2)")
    assert (clip.severity, clip.detail) == (Severity.INFO, "not measured: the container is exited, not running")
    assert all(f.severity is not Severity.WARNING for f in report.findings)  # not "not read"


async def test_health_of_one_host_counts_only_that_hosts_services() -> None:
    world = fleet_world(seen=["backend", "ai-yolo26", "clip", "cron-job"])
    await world.profbot.run(await world.asker(), Health(host=HOST))
    [said] = world.people.said
    assert isinstance(said.content, HealthOverview) and said.content.profiles is not None
    profiles = said.content.profiles
    assert profiles.summary() == "All 2 services sent profiles in the last 5 min"
    [finding] = profiles.findings
    assert finding.detail == "2 services sent profiles in the last 5 min: ai-yolo26, backend"


def test_a_quick_link_with_a_pipe_or_angle_bracket_in_its_address_cannot_become_another_link() -> None:
    links = QuickLinks(service="web", pyroscope="https://pyro/?q=a|<!channel>", host=HOST,
                       grafana_explore="https://grafana/x>y|<https://evil.example|Grafana>")  # fmt: skip
    shown = render(links).as_kwargs()["blocks"][0]["text"]["text"]
    assert "<" not in shown  # neither a link nor a mention
    assert "Open in Pyroscope: https://pyro/?q=a|&lt;!channel&gt;" in shown
    safe = QuickLinks(service="web", pyroscope="http://pyro:4040/x", grafana_explore=None, host=HOST)
    assert "<http://pyro:4040/x|Open in Pyroscope>" in render(safe).as_kwargs()["blocks"][0]["text"]["text"]
