"""`/prof diagnose`, `/prof freshness`, `/prof runbook` and the remediation buttons.

A diagnosis runs on the host whose runner reports the container it is about, posts one message
(headline, findings most severe first, remediation buttons) and puts long evidence in the thread.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from pydantic import BaseModel
from slack_sdk.errors import SlackApiError

from bot import changes, messages
from bot.context import BotDeps, Invocation
from bot.posting import answering_errors, post_in_channel, tell_privately
from handlers.baselines import BaselineParams
from handlers.findings import Remediation, Report
from handlers.grafana_datasource import DatasourceParams
from handlers.missing_profiles import NoDataParams
from handlers.onboarding import OnboardParams
from handlers.profiling_overhead import OverheadParams
from handlers.pyroscope_unavailable import UnavailableParams
from handlers.registry import ProcedureContext
from handlers.storage_full import StorageParams
from handlers.upgrade import RollbackParams, UpgradeParams
from profbot.errors import ProfbotError
from profbot.ops import Freshness, OpKind, PyroscopeFreshness
from profbot.settings import NAME_PATTERN

log = structlog.get_logger("profbot.diagnoses")


@dataclass(frozen=True)
class DiagnosisSpec:
    procedure: str
    alias: str
    usage: str
    # the argument's default, or None when one must be given
    service_default: str | None
    needs_service: bool
    params: Callable[[str], BaseModel]
    # the container whose host runs it; None: the argument itself names that container
    route_by: str | None = None


DIAGNOSES = [
    DiagnosisSpec("INC-PROF-001", "unavailable", "diagnose unavailable", "pyroscope", False,
                  lambda target: UnavailableParams(container=target)),
    DiagnosisSpec("INC-PROF-002", "overhead", "diagnose overhead SERVICE", None, True,
                  lambda target: OverheadParams(service=target)),
    DiagnosisSpec("INC-PROF-003", "no-data", "diagnose no-data SERVICE", None, True,
                  lambda target: NoDataParams(service=target)),
    DiagnosisSpec("INC-PROF-004", "storage", "diagnose storage", "pyroscope", False,
                  lambda target: StorageParams(container=target)),
    DiagnosisSpec("MAINT-PROF-002", "onboard", "onboard SERVICE", None, True,
                  lambda target: OnboardParams(service=target)),
    DiagnosisSpec("BASELINES", "baselines", "baselines", "pyroscope", False,
                  lambda target: BaselineParams(container=target)),
    DiagnosisSpec("MAINT-PROF-003", "datasource", "datasource", "grafana", False,
                  lambda target: DatasourceParams(grafana=target)),
    DiagnosisSpec("MAINT-PROF-001", "upgrade", "upgrade VERSION", None, True,
                  lambda tag: UpgradeParams(tag=tag), route_by="pyroscope"),
    DiagnosisSpec("MAINT-PROF-001-ROLLBACK", "rollback", "rollback", "pyroscope", False,
                  lambda target: RollbackParams(service=target)),
]  # fmt: skip
BY_NAME = {key.lower(): spec for spec in DIAGNOSES for key in (spec.procedure, spec.alias)}


def find(name: str) -> DiagnosisSpec | None:
    return BY_NAME.get(name.lower())


async def onboard_command(inv: Invocation) -> None:
    await diagnose_command(inv, ["onboard", *inv.args])


async def datasource_command(inv: Invocation) -> None:
    await diagnose_command(inv, ["datasource", *inv.args])


async def upgrade_command(inv: Invocation) -> None:
    await diagnose_command(inv, ["upgrade", *inv.args])


async def rollback_command(inv: Invocation) -> None:
    await diagnose_command(inv, ["rollback", *inv.args])


async def baselines_command(inv: Invocation) -> None:
    await diagnose_command(inv, ["baselines", *inv.args])


async def diagnose_command(inv: Invocation, words: list[str] | None = None) -> None:
    if words is not None:
        inv = Invocation(inv.deps, inv.user_id, inv.channel_id, words, inv.ack, inv.respond)
    if not inv.args:
        await inv.ack(text=messages.unknown_procedure("", [f"{s.procedure} ({s.alias})" for s in DIAGNOSES]))
        return
    spec = find(inv.args[0])
    if spec is None:
        await inv.ack(text=messages.unknown_procedure(inv.args[0], [f"{s.procedure} ({s.alias})" for s in DIAGNOSES]))
        return
    target = inv.args[1] if len(inv.args) > 1 else spec.service_default
    if target is None:
        await inv.ack(text=messages.needs_service(spec.procedure, spec.usage))
        return
    if not re.match(NAME_PATTERN, target) or len(target) > 128:
        await inv.ack(text=messages.not_a_host(target).replace("host name", "container name"))
        return
    procedure = inv.deps.runbook.get(spec.procedure)
    assert procedure is not None, spec.procedure
    await inv.ack(text=messages.diagnosis_ack(spec.procedure, procedure.title, target))
    inv.deps.tasks.spawn(run_diagnosis(inv, spec, target), name=f"diagnose-{spec.procedure}")


async def run_procedure(deps: BotDeps, spec: DiagnosisSpec, target: str) -> Report | messages.Message:
    try:
        hosts = await deps.bus.hosts_for(spec.route_by or target)
    except ProfbotError as exc:
        return messages.bus_unavailable(str(exc))
    if not hosts:
        return messages.no_host_for(spec.route_by or target)
    procedure = deps.runbook.get(spec.procedure)
    assert procedure is not None
    return await procedure(ProcedureContext(deps.bus, hosts[0], deps.job_timeout), spec.params(target))


async def run_diagnosis(inv: Invocation, spec: DiagnosisSpec, target: str) -> None:
    async with answering_errors(inv):
        await _run_diagnosis(inv, spec, target)


async def _run_diagnosis(inv: Invocation, spec: DiagnosisSpec, target: str) -> None:
    outcome = await run_procedure(inv.deps, spec, target)
    if isinstance(outcome, messages.Message):
        await post_in_channel(inv, outcome)
        return
    log.info("diagnosis_reported", procedure=spec.procedure, target=target, verdict=outcome.verdict.value)
    ts = await post_in_channel(inv, messages.report_message(outcome, inv.user_id))
    if ts is None:
        return
    for item in outcome.evidence:
        try:
            await inv.deps.client.chat_postMessage(
                channel=inv.channel_id, thread_ts=ts, **messages.evidence_message(item).as_kwargs()
            )
        except SlackApiError as exc:
            log.warning("evidence_post_failed", error=exc.response.get("error"))


async def freshness_command(inv: Invocation) -> None:
    service = inv.args[0] if inv.args else None
    if service is not None and not re.match(NAME_PATTERN, service):
        await inv.ack(text=messages.not_a_host(service).replace("host name", "service name"))
        return
    await inv.ack(text=":mag: Asking Pyroscope which services sent profiles in the last 5 minutes.")

    async def answer() -> None:
        async with answering_errors(inv):
            await _answer()

    async def _answer() -> None:
        try:
            hosts = await inv.deps.bus.hosts_for("pyroscope")
            if not hosts:
                await post_in_channel(inv, messages.no_host_for("pyroscope"))
                return
            fresh = await inv.deps.bus.call(
                hosts[0], PyroscopeFreshness(services=[service] if service else [], minutes=5),
                timeout=inv.deps.job_timeout,
            )  # fmt: skip
        except ProfbotError as exc:
            await post_in_channel(inv, messages.bus_unavailable(str(exc)))
            return
        assert isinstance(fresh, Freshness)
        await post_in_channel(inv, messages.freshness_message(hosts[0], fresh))

    inv.deps.tasks.spawn(answer(), name="freshness")


async def runbook_command(inv: Invocation) -> None:
    if not inv.args:
        entries = [(s.procedure, inv.deps.runbook.get(s.procedure).title, s.usage) for s in DIAGNOSES]  # type: ignore[union-attr]
        await inv.ack(**messages.runbook_index(entries).as_kwargs())
        return
    spec = find(inv.args[0])
    procedure = inv.deps.runbook.get(spec.procedure) if spec else None
    if spec is None or procedure is None:
        await inv.ack(text=messages.unknown_procedure(inv.args[0], [s.procedure for s in DIAGNOSES]))
        return
    await inv.ack(**messages.runbook_entry(spec.procedure, procedure.title, procedure.doc, spec.usage).as_kwargs())


# ---------------------------------------------------------------------------- buttons


def parse_button(value: str, deps: BotDeps) -> Remediation | None:
    """The remediation a button stands for, re-checked against the registry: a button's value
    comes back from Slack and is never trusted for what kind of action it is."""
    try:
        data: dict[str, Any] = json.loads(value)
        procedure = deps.runbook.get(str(data["p"]))
        action, target, host = str(data["a"]), str(data["t"]), str(data["h"])
    except (ValueError, KeyError, TypeError):
        return None
    if procedure is None or action not in procedure.actions:
        return None
    if not (re.match(NAME_PATTERN, target) and re.match(NAME_PATTERN, host)):
        return None
    params = data.get("params") if isinstance(data.get("params"), dict) else {}
    return Remediation(
        procedure=procedure.id, action=action, label=action, kind=procedure.actions[action], target=target,
        host=host, impact="", params=params or {},
    )  # fmt: skip


async def remediation_clicked(deps: BotDeps, body: dict[str, Any], respond: Any) -> None:
    try:
        await _remediation_clicked(deps, body, respond)
    except Exception:
        log.exception("remediation_failed")
        await tell_privately(respond, messages.internal_error())


async def _remediation_clicked(deps: BotDeps, body: dict[str, Any], respond: Any) -> None:
    user = str((body.get("user") or {}).get("id", ""))
    actions = body.get("actions") or [{}]
    remedy = parse_button(str(actions[0].get("value", "")), deps)
    if remedy is None:
        await tell_privately(respond, messages.stale_button())
        return
    spec = next((s for s in DIAGNOSES if s.procedure == remedy.procedure), None)
    if remedy.kind is OpKind.READ and spec is not None:
        outcome = await run_procedure(deps, spec, remedy.target)
        message = outcome if isinstance(outcome, messages.Message) else messages.report_message(outcome, user)
        channel = str((body.get("channel") or {}).get("id", ""))
        thread = str((body.get("message") or {}).get("ts", "")) or None
        await deps.client.chat_postMessage(channel=channel, thread_ts=thread, **message.as_kwargs())
        return
    # Changes and destroys: a request in the diagnosis's thread, confirmed or approved before anything runs.
    channel = str((body.get("channel") or {}).get("id", ""))
    clicked_on = body.get("message") or {}
    thread = str(clicked_on.get("thread_ts") or clicked_on.get("ts") or "") or None
    where = changes.Where(channel, thread)
    await changes.ChangeFlow(deps).request(remedy, user, where, respond, body.get("trigger_id"))


async def destroy_submitted(deps: BotDeps, body: dict[str, Any], view: dict[str, Any]) -> dict[str, str] | None:
    """The destroy modal came back: the remediation it carries is checked again like a button's."""
    user = str((body.get("user") or {}).get("id", ""))
    try:
        metadata = json.loads(str(view.get("private_metadata") or ""))
        remedy = parse_button(str(metadata["button"]), deps)
        where = changes.Where(str(metadata["channel"]), str(metadata["thread"]) if metadata.get("thread") else None)
        typed = str(view["state"]["values"][messages.TYPED_BLOCK][messages.TYPED_INPUT]["value"] or "")
    except (ValueError, KeyError, TypeError):
        remedy = None
    if remedy is None or remedy.kind is not OpKind.DESTROY:
        return {messages.TYPED_BLOCK: messages.stale_button()}
    return await changes.ChangeFlow(deps).destroy_typed(remedy, typed, user, where)
