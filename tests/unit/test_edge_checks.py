"""The HTTP edge's checks of Slack requests, and the structures registered at import time."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import structlog
from pydantic import BaseModel
from slack_sdk.signature import SignatureVerifier

from bot.slack.http import check_body, check_signature
from handlers.actions import ContainerParams, Plan, Recheck, Step
from handlers.context import ProcedureContext
from handlers.findings import Report
from handlers.registry import Runbook
from handlers.verification import ready_within
from profbot import logs
from profbot.ops.containers import RestartContainer
from profbot.ops.contract import Operation, OperationCatalog, OpKind, OpResult
from profbot.ops.pyroscope import PurgePyroscopeData
from runner.operations import IMPLEMENTATIONS, OperationTable

SECRET = "s3cret"


class Params(BaseModel):
    pass


def signed(body: bytes, ts: int | None = None, secret: str = SECRET) -> dict[str, str]:
    stamp = str(int(time.time()) if ts is None else ts)
    return {
        "x-slack-request-timestamp": stamp,
        "x-slack-signature": str(SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body.decode())),
    }


def test_signature_accepts_slacks_own_scheme() -> None:
    assert check_signature(SignatureVerifier(SECRET), signed(b"a=b"), b"a=b") is None


@pytest.mark.parametrize(
    ("make_headers", "reason"),
    [
        (lambda: {}, "missing"),
        (lambda: signed(b"a=b", ts=int(time.time()) - 301), "five minutes"),
        (lambda: signed(b"a=b", ts=int(time.time()) + 301), "five minutes"),
        (lambda: signed(b"a=b", secret="x"), "invalid signature"),
        (lambda: signed(b"a=c"), "invalid signature"),
        (lambda: {"x-slack-request-timestamp": "soon", "x-slack-signature": "v0=1"}, "five minutes"),
    ],
)
def test_signature_refusals_say_why(make_headers: Callable[[], dict[str, str]], reason: str) -> None:
    # Headers are made when the test runs: a timestamp made at collection would age with the suite.
    assert reason in (check_signature(SignatureVerifier(SECRET), make_headers(), b"a=b") or "")


def test_body_shapes() -> None:
    assert check_body("application/x-www-form-urlencoded", b"command=%2Fprof&text=") is None
    assert check_body("application/x-www-form-urlencoded", b'payload={"type":"block_actions"}') is None
    assert check_body("application/json", b'{"type":"url_verification"}') is None
    assert "UTF-8" in (check_body("application/json", b"\xff\xfe") or "")


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ('{"type":"block_actions","actions":[]}', "'actions' is not a list of objects"),
        ('{"type":"block_actions","actions":[{"value":"x"}]}', "'action_id'"),
        ('{"type":"view_submission","view":null,"user":false}', "'user' is not an object"),
        ('{"type":"block_actions","channel":[],"actions":[{"action_id":"a"}]}', "'channel' is not an object"),
        ('{"type":"block_actions","user":{"id":[]},"actions":[{"action_id":"a"}]}', "'user.id' is not a string"),
        ('{"type":["block_actions"]}', "'type' is not a string"),
        ('{"type":"event_callback","event":{"type":"app_home_opened","user":false,"tab":"home"}}', "'event.user'"),
    ],
)
def test_envelopes_slack_never_sends_are_refused_before_bolt_indexes_them(payload: str, reason: str) -> None:
    """Found by the fault suite: each of these made bolt or profbot's middleware raise (a 500)."""
    body = "payload=" + payload
    assert reason in (check_body("application/x-www-form-urlencoded", body.encode()) or "")
    assert reason in (check_body("application/json", payload.encode()) or "")


def test_procedure_with_a_wrong_signature_is_refused_at_registration() -> None:
    registry = Runbook()

    with pytest.raises(TypeError, match="params must be annotated"):
        # mypy refuses this too; the runtime check covers procedures mypy never sees.
        @registry.procedure("X", title="x", runbook_section="x")  # type: ignore[type-var]
        async def untyped(ctx: ProcedureContext, params: dict) -> Report:
            raise NotImplementedError

    @registry.procedure("Y", title="y", runbook_section="y")
    async def typed(ctx: ProcedureContext, params: Params) -> Report:
        raise NotImplementedError

    with pytest.raises(ValueError, match="registered twice"):
        registry.procedure("Y", title="y", runbook_section="y")(typed.fn)


def test_actions_are_checked_when_they_are_declared() -> None:
    book = Runbook()

    @book.procedure("P", title="p", runbook_section="p")
    async def diagnose(ctx: ProcedureContext, params: ContainerParams) -> Report:
        raise NotImplementedError

    @book.action("P", "restart", risk=OpKind.CHANGE, label="Restart {container}", impact="i")
    def restart(p: ContainerParams) -> Plan:
        return Plan(steps=[Step(RestartContainer(container=p.container), "restart")], verify=ready_within())

    offered = restart.offer("h1", ContainerParams(container="pyroscope"))
    assert (offered.label, offered.target, offered.kind, offered.impact) == ("Restart pyroscope", "pyroscope",
                                                                              OpKind.CHANGE, "i")  # fmt: skip
    assert book.action_for(offered) is restart

    with pytest.raises(TypeError, match="label names unknown parameters"):
        book.action("P", "x", risk=OpKind.CHANGE, label="Restart {service}", impact="i")(restart.fn)
    with pytest.raises(TypeError, match="a read action returns Recheck"):
        book.action("P", "y", risk=OpKind.READ, label="Check", impact="i")(restart.fn)
    with pytest.raises(ValueError, match="unknown procedure"):
        book.action("Q", "z", risk=OpKind.CHANGE, label="z", impact="i")(restart.fn)

    @book.action("P", "sneaky", risk=OpKind.CHANGE, label="Tidy {container}", impact="i")
    def sneaky(p: ContainerParams) -> Plan:
        return Plan(steps=[Step(PurgePyroscopeData(volume="pyroscope_data"), "purge")], verify=ready_within())

    with pytest.raises(TypeError, match="is a change but its plan destroys"):
        sneaky.plan(ContainerParams(container="pyroscope"))

    @book.action("P", "verify", risk=OpKind.READ, label="Check", impact="Reads only.")
    def verify(p: ContainerParams) -> Recheck:
        return Recheck(diagnose, p)

    with pytest.raises(KeyError):  # a read offer cannot pass for a change
        book.action_for(verify.offer("h1", ContainerParams(container="x")).model_copy(update={"kind": OpKind.CHANGE}))


def test_a_runner_missing_an_implementation_refuses_to_start() -> None:
    catalog = OperationCatalog()

    class R(OpResult):
        pass

    class AB(Operation[R]):
        pass

    catalog.register("a.b", OpKind.READ, timeout=5)(AB)
    assert AB.result_type is R  # read from Operation[R]
    with pytest.raises(RuntimeError, match=r"lacks implementations for: a\.b"):
        OperationTable(catalog).check_complete()
    IMPLEMENTATIONS.check_complete()  # the real table is complete


def test_secret_looking_log_fields_are_redacted() -> None:
    logs.configure("info")
    with structlog.testing.capture_logs(processors=[logs.redact_secrets]) as captured:
        structlog.get_logger().info("startup", slack_bot_token="xoxb-123", signing_secret="abc", user="U1")
    assert captured == [
        {"event": "startup", "slack_bot_token": "[redacted]", "signing_secret": "[redacted]", "user": "U1",
         "log_level": "info"}
    ]  # fmt: skip
