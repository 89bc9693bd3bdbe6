"""Flamegraphs and storage charts, as use cases on fakes: what `flame` asks the runner, what goes
into the report's thread (the words, then the picture), what "no data" says and offers instead,
and the buttons that lead to a flamegraph from INC-PROF-002 and 003."""

from __future__ import annotations

import time

from bot.usecases.commands import Diagnose, Problem, Unparsed, parse
from bot.usecases.content import DiagnosisPosted, FlameDrawing, ProfileSummary, StorageDrawing
from handlers.findings import Report
from profbot.jobs import VolumeSample
from profbot.ops import OpKind
from profbot.ops.pyroscope import CPU_PROFILE_TYPE, FlameProfile, PyroscopeProfile
from tests.standins.flamebearer import encode
from tests.unit.world import CHANNEL, HOST, World, make_world

STACKS = {"main;serve;handle;parse_json": 30, "main;serve;handle;predict": 60, "main;gc": 10}


def profile_of(op: PyroscopeProfile, stacks: dict[str, int] = STACKS) -> FlameProfile:
    bearer = encode(stacks) if stacks else {"names": [], "levels": [], "numTicks": 0, "maxSelf": 0}
    now = time.time()
    return FlameProfile(
        service=op.service,
        profile_type=CPU_PROFILE_TYPE,
        start=now - op.minutes * 60,
        end=now,
        num_ticks=bearer["numTicks"],
        max_self=bearer["maxSelf"],
        names=bearer["names"],
        levels=bearer["levels"],
        ui_url=f"http://pyroscope:4040/?query=x&service={op.service}",
    )


async def diagnose(world: World, text: str) -> Report | None:
    command = parse(text)
    assert isinstance(command, Diagnose), command
    return await world.profbot.diagnoses.diagnose(await world.asker(), command)


def test_flame_takes_a_service_and_an_optional_window_in_minutes() -> None:
    assert parse("flame ai-yolo26") == Diagnose(procedure="FLAME", argument="ai-yolo26")
    assert parse("/prof flame ai-yolo26 60") == Diagnose(procedure="FLAME", argument="ai-yolo26", minutes=60)
    for bad in ("0", "1441", "ten", "5;rm"):
        said = parse(f"flame ai-yolo26 {bad}")
        assert isinstance(said, Unparsed) and said.problem is Problem.BAD_MINUTES, bad
    needs = parse("flame")
    assert isinstance(needs, Unparsed) and needs.problem is Problem.NEEDS_ARGUMENT
    assert needs.usage == "flame SERVICE [MINUTES]"
    assert isinstance(parse("flame '; rm -rf /'"), Unparsed)


async def test_a_flamegraph_goes_into_the_reports_thread_with_its_top_functions() -> None:
    world = make_world()
    world.bus.answer("pyroscope.profile", profile_of)

    report = await diagnose(world, "flame ai-yolo26 30")

    [call] = world.bus.calls
    assert call.host == HOST and call.operation == PyroscopeProfile(service="ai-yolo26", minutes=30)
    assert report is not None and report.profile is not None and report.profile.num_ticks == 100
    # 100 samples at 100 Hz: a second of CPU; the hottest function by self time named with its share.
    assert report.summary().startswith("Flamegraph of ai-yolo26, last 30 min: 1.00 s of process_cpu:cpu")
    assert "hottest: predict at 60.0 % (self)" in report.summary()
    [posted] = world.people.of(DiagnosisPosted, "post")
    hows = [(s.how, type(s.content)) for s in world.people.said]
    assert hows == [("post", DiagnosisPosted), ("reply", ProfileSummary), ("attach", FlameDrawing)]
    [summary] = world.people.of(ProfileSummary)
    [drawing] = world.people.of(FlameDrawing)
    assert summary.where == posted.ref and drawing.where == posted.ref  # both in the report's thread
    assert drawing.content == FlameDrawing(report.profile)


async def test_no_samples_in_the_window_says_so_and_offers_the_no_data_diagnosis() -> None:
    world = make_world()
    world.bus.answer("pyroscope.profile", lambda op: profile_of(op, {}))

    report = await diagnose(world, "flame backend")

    assert report is not None and report.profile is None
    assert report.summary() == "No profile from backend in the last 15 min: nothing to draw"
    assert "INC-PROF-003" in report.findings[0].detail
    assert world.people.of(FlameDrawing) == [] and world.people.of(ProfileSummary) == []
    [posted] = world.people.of(DiagnosisPosted, "post")
    assert isinstance(posted.content, DiagnosisPosted)
    [offer] = posted.content.offers
    assert (offer.remediation.label, offer.remediation.kind) == ("Diagnose no data for backend", OpKind.READ)

    world.people.said.clear()
    await world.profbot.requests.remediate(await world.asker(), offer.id)

    [again] = world.people.of(DiagnosisPosted, "post")
    assert isinstance(again.content, DiagnosisPosted) and again.content.report.procedure == "INC-PROF-003"


async def test_overhead_and_no_data_diagnoses_offer_the_flamegraph_as_a_read() -> None:
    world = make_world()
    world.bus.answer("pyroscope.profile", profile_of)
    await diagnose(world, "diagnose overhead ai-yolo26")
    [posted] = world.people.of(DiagnosisPosted, "post")
    assert isinstance(posted.content, DiagnosisPosted)
    show = next(o for o in posted.content.offers if o.remediation.action == "flamegraph")
    assert (show.remediation.label, show.remediation.kind) == ("Show flamegraph of ai-yolo26", OpKind.READ)
    assert world.bus.ran("pyroscope.profile") == []  # offered, not run
    world.people.said.clear()

    await world.profbot.requests.remediate(await world.asker(place=posted.ref.thread_place), show.id)  # type: ignore[union-attr]

    [call] = world.bus.ran("pyroscope.profile")
    assert call.operation == PyroscopeProfile(service="ai-yolo26", minutes=15)
    assert len(world.people.of(FlameDrawing, "attach")) == 1

    world.people.said.clear()
    await diagnose(world, "diagnose no-data backend")
    [posted] = world.people.of(DiagnosisPosted, "post")
    assert isinstance(posted.content, DiagnosisPosted)
    assert "Show flamegraph of backend" in [o.remediation.label for o in posted.content.offers]


async def test_the_storage_diagnosis_attaches_its_chart_once_there_are_two_samples() -> None:
    world = make_world()
    now = time.time()
    world.bus.history[(HOST, "pyroscope_data")] = [VolumeSample(at=now - 60, size_bytes=10 * 2**20)]

    one = await diagnose(world, "diagnose storage")

    assert one is not None and world.people.of(StorageDrawing) == []
    growth = next(f for f in one.findings if f.check == "growth per day")
    assert "a trend is available from" in growth.detail

    world.people.said.clear()
    world.bus.history[(HOST, "pyroscope_data")] = [
        VolumeSample(at=now - 7200 + 600 * i, size_bytes=(10 + i) * 2**20) for i in range(12)
    ]
    report = await diagnose(world, "diagnose storage")

    [chart] = world.people.of(StorageDrawing, "attach")
    assert report is not None and report.storage is not None
    assert chart.content == StorageDrawing(report.storage)
    assert len(report.storage.samples) == 12 and report.storage.growth_per_day is not None
    assert round(report.storage.growth_per_day / 2**20) == 144  # 1 MB every 10 minutes


async def test_a_picture_the_place_refuses_leaves_the_report_and_its_words_standing() -> None:
    world = make_world()
    world.bus.answer("pyroscope.profile", profile_of)
    world.people.refusing_files.add(CHANNEL)

    report = await diagnose(world, "flame ai-yolo26")

    assert report is not None and report.profile is not None
    assert len(world.people.of(DiagnosisPosted, "post")) == 1 and len(world.people.of(ProfileSummary)) == 1
    assert world.people.of(FlameDrawing) == []


async def test_the_flamegraph_button_runs_where_pyroscope_is_and_no_data_where_the_service_is() -> None:
    world = make_world()
    world.bus.hosts[HOST].remove("ai-yolo26")
    world.bus.hosts["gpu-host"] = ["ai-yolo26"]  # the service on a host of its own
    world.bus.answer("pyroscope.profile", lambda op: profile_of(op, {}))
    await diagnose(world, "diagnose overhead ai-yolo26")
    [posted] = world.people.of(DiagnosisPosted, "post")
    assert isinstance(posted.content, DiagnosisPosted) and posted.content.report.host == "gpu-host"
    show = next(o for o in posted.content.offers if o.remediation.action == "flamegraph")
    world.people.said.clear()

    await world.profbot.requests.remediate(await world.asker(), show.id)

    [call] = world.bus.ran("pyroscope.profile")
    assert call.host == HOST  # Pyroscope's host, whose runner reaches it
    [flame] = world.people.of(DiagnosisPosted, "post")
    assert isinstance(flame.content, DiagnosisPosted)
    [no_data] = flame.content.offers
    world.bus.calls.clear()

    await world.profbot.requests.remediate(await world.asker(), no_data.id)

    assert {c.host for c in world.bus.calls} == {"gpu-host"}  # INC-PROF-003 where the service runs
