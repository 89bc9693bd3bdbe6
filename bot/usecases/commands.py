"""Typed commands: who asked, where, and what; and the one grammar every front end parses with.

``parse(text)`` turns what a person typed (``/prof diagnose overhead ai-yolo26``, or the bare
``diagnose overhead ai-yolo26`` in the terminal) into a :class:`Command`, or into an
:class:`Unparsed` that says what is wrong and how to write it. The front end adds the
:class:`Asker` (who, where, with which roles) and hands both to the use cases.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from handlers.fleet import FLEET_WIDE
from handlers.registry import RUNBOOK, Procedure, Runbook
from profbot.approvals.rules import Decision
from profbot.settings import NAME_PATTERN

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN, max_length=128)]
AUDIT_DEFAULT, AUDIT_MAX = 10, 50
MINUTES_MAX = 1440  # a day: the longest window a flamegraph is drawn over


# ---------------------------------------------------------------------------- who and where


class Role(StrEnum):
    OPERATOR = "operator"
    APPROVER = "approver"


class Place(BaseModel):
    """Where a conversation happens: a channel (a Slack channel id, a terminal) and, in it, the
    thread replies go to (the ts of its first message), if any."""

    model_config = ConfigDict(frozen=True)

    channel: str
    thread: str | None = None


class Asker(BaseModel):
    """Who asked, where, with which roles, and how to answer them alone."""

    model_config = ConfigDict(frozen=True)

    user: str  # a Slack user id (U..., W...), or shell:NAME from the terminal
    name: str = ""  # what the front end calls them (Slack's username), for records outside profbot
    place: Place
    roles: frozenset[Role] = frozenset()
    # Opaque handles of the front end the request came through: to answer this person privately
    # (Slack: the response_url), and to open a form for them (Slack: the trigger_id).
    reply_to: str | None = None
    form_handle: str | None = None

    def with_roles(self, roles: frozenset[Role]) -> Asker:
        return self.model_copy(update={"roles": roles})


# ---------------------------------------------------------------------------- what


class Command(BaseModel):
    """What was asked. ``word`` is the subcommand; ``public`` commands are open to everyone,
    the others to operators."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    word: ClassVar[str]
    public: ClassVar[bool] = False


class Help(Command):
    word: ClassVar[str] = "help"
    public: ClassVar[bool] = True


class Health(Command):
    word: ClassVar[str] = "health"
    public: ClassVar[bool] = True
    host: Name | None = None


class Runners(Command):
    word: ClassVar[str] = "runners"


class Diagnose(Command):
    """Run a runbook procedure (``diagnose ID``, or its own word: ``onboard``, ``upgrade``...)."""

    word: ClassVar[str] = "diagnose"
    procedure: str
    argument: Name | None  # None: every profiled service on every host (overhead, no-data)
    minutes: Annotated[int, Field(ge=1, le=MINUTES_MAX)] | None = None  # a window, for those that take one (flame)


class DiagnoseEverywhere(Diagnose):
    """A fleet-wide procedure named without a service (``diagnose overhead``, ``diagnose no-data``):
    every profiled service on every host."""

    argument: None = None


class Freshness(Command):
    word: ClassVar[str] = "freshness"
    service: Name | None = None


class Ui(Command):
    """The runbook's Quick Reference: the Pyroscope UI and Grafana Explore links (for a service)."""

    word: ClassVar[str] = "ui"
    service: Name | None = None


class RunbookQuery(Command):
    word: ClassVar[str] = "runbook"
    procedure: str | None = None


class Restart(Command):
    word: ClassVar[str] = "restart"
    service: Name


class Decide(Command):
    """A decision on a change request by its id, typed (``approve 1a2b3c4d``): what a button does in
    Slack, for a request whose message is elsewhere (a terminal's), and for the terminal itself."""

    word: ClassVar[str] = "decide"
    decision: Decision
    request: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{8,32}$")]  # an id, or its first 8+ characters


class RequestQuery(Command):
    word: ClassVar[str] = "request"
    request: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{8,32}$")]


class AuditQuery(Command):
    word: ClassVar[str] = "audit"
    count: Annotated[int, Field(ge=1, le=AUDIT_MAX)] = AUDIT_DEFAULT


# The help, in order: (usage, what it does). Subcommands that run a procedure directly are the
# aliases of procedures (onboard, baselines, datasource, upgrade, rollback).
HELP: dict[str, tuple[str, str]] = {
    "help": ("help", "show this list"),
    "health": (
        "health [HOST]",
        "Pyroscope readiness and the `pyroscope` container's state and health, on every host or on HOST",
    ),
    "runners": ("runners", "the host-side runners, their last heartbeat and podman version"),
    "diagnose": (
        "diagnose INC-PROF-00N|unavailable|overhead [SERVICE]|no-data [SERVICE]|storage",
        "run a runbook diagnosis: findings, evidence and the runbook's remediations "
        "(overhead and no-data without a service: every profiled service on every host)",
    ),
    "freshness": (
        "freshness [SERVICE]",
        "which expected services (profiled containers on every host) sent profiles in the last 5 minutes",
    ),
    "ui": ("ui [SERVICE]", "the Pyroscope UI and Grafana Explore links, for SERVICE's profiles"),
    "runbook": ("runbook [ID]", "the runbook's procedures, or what one of them checks and offers"),
    "onboard": ("onboard SERVICE", "MAINT-PROF-002: what a service lacks for profiling, with the lines to add"),
    "baselines": ("baselines", "the runbook's performance baselines: expected, alert, measured, verdict"),
    "upgrade": ("upgrade VERSION", "MAINT-PROF-001 pre-flight: version, image pins, config and its backups"),
    "rollback": ("rollback", "MAINT-PROF-001 rollback pre-flight: what the rollback would return to"),
    "datasource": ("datasource", "MAINT-PROF-003: is Grafana's Pyroscope datasource there (and offer to provision it)"),
    "flame": (
        "flame SERVICE [MINUTES]",
        "the service's flamegraph over the last MINUTES (15): a picture, its top functions, the Pyroscope link",
    ),
    "restart": (
        "restart SERVICE",
        "request a restart of SERVICE (you confirm it; then /ready or the diagnosis checks it)",
    ),
    "audit": ("audit [N]", "the latest N audit events: requests, confirmations, approvals, executions, results"),
    "request": ("request ID", "a change request as it stands (ID: its first 8 characters will do)"),
    "approve": ("approve ID | reject ID", "decide on someone else's destroy request (approvers)"),
    "confirm": ("confirm ID | cancel ID", "decide on your own change request"),
}
DECISION_WORDS = {d.value: d for d in Decision}


# ---------------------------------------------------------------------------- what went wrong


class Problem(StrEnum):
    UNKNOWN_COMMAND = "unknown_command"
    UNKNOWN_PROCEDURE = "unknown_procedure"
    NEEDS_ARGUMENT = "needs_argument"
    BAD_REQUEST_ID = "bad_request_id"
    BAD_NAME = "bad_name"  # not a host, container or service name
    BAD_COUNT = "bad_count"
    BAD_MINUTES = "bad_minutes"


class Unparsed(BaseModel):
    """Why a text is not a command, and what would be."""

    model_config = ConfigDict(frozen=True)

    problem: Problem
    given: str
    word: str = ""  # the subcommand it was meant as (what access is checked for)
    noun: str = ""  # BAD_NAME: what it should have been ("host name", "container name")
    usage: str = ""  # NEEDS_ARGUMENT: how to write it
    subject: str = ""  # NEEDS_ARGUMENT: what needs it (a procedure id, "restart")
    known: list[str] = []  # UNKNOWN_PROCEDURE: what exists


# ---------------------------------------------------------------------------- the grammar


def diagnosable(runbook: Runbook = RUNBOOK) -> list[Procedure]:
    """The procedures people can run by name, in the runbook's order (incidents, maintenance, the rest)."""

    def order(p: Procedure) -> tuple[int, str]:
        return (0 if p.id.startswith("INC-") else 1 if p.id.startswith("MAINT-") else 2, p.id)

    return sorted((p for p in runbook if p.alias is not None), key=order)


def usage(procedure: Procedure) -> str:
    """How to run it: ``diagnose overhead SERVICE``, or ``upgrade VERSION`` for those with a word of their own."""
    alias = procedure.alias or procedure.id
    head = alias if alias in HELP else f"diagnose {alias}"
    said = f"{head} {procedure.argument_label}" if procedure.needs_argument else head
    return f"{said} [MINUTES]" if procedure.takes_minutes else said


def _name(given: str, noun: str) -> Unparsed | None:
    if re.match(NAME_PATTERN, given) and len(given) <= 128:
        return None
    return Unparsed(problem=Problem.BAD_NAME, given=given[:200], noun=noun)


def _diagnose(args: list[str], runbook: Runbook) -> Diagnose | Unparsed:
    known = [f"{p.id} ({p.alias})" for p in diagnosable(runbook)]
    procedure = runbook.find(args[0]) if args else None
    if procedure is None or procedure.alias is None:
        return Unparsed(problem=Problem.UNKNOWN_PROCEDURE, given=args[0][:200] if args else "", known=known)
    argument = args[1] if len(args) > 1 else procedure.default_argument
    if argument is None and procedure.id in FLEET_WIDE:
        return DiagnoseEverywhere(procedure=procedure.id)
    if argument is None:
        return Unparsed(problem=Problem.NEEDS_ARGUMENT, given="", subject=procedure.id, usage=usage(procedure))
    bad = _name(argument, "container name")
    if bad is not None:
        return bad
    minutes = None
    if len(args) > 2 and procedure.takes_minutes:
        if not args[2].isdigit() or not 1 <= int(args[2]) <= MINUTES_MAX:
            return Unparsed(problem=Problem.BAD_MINUTES, given=args[2][:20])
        minutes = int(args[2])
    try:
        procedure.params_for(argument, minutes=minutes)
    except ValidationError:
        return Unparsed(problem=Problem.BAD_NAME, given=argument[:200], noun=f"{procedure.argument_label.lower()}")
    return Diagnose(procedure=procedure.id, argument=argument, minutes=minutes)


def parse(text: str, runbook: Runbook = RUNBOOK) -> Command | Unparsed:
    words = text.split()
    if words and words[0].startswith("/"):  # `/prof health` typed in full, in the terminal
        words = words[1:]
    if not words:
        return Help()
    parsed = _parse(words[0].lower(), words, runbook)
    if isinstance(parsed, Unparsed):
        return parsed.model_copy(update={"word": words[0].lower()[:60]})
    return parsed


PUBLIC_WORDS = frozenset(cls.word for cls in (Help, Health))


def _parse(word: str, words: list[str], runbook: Runbook) -> Command | Unparsed:
    args = words[1:]
    first = args[0] if args else None
    match word:
        case "help":
            return Help()
        case "health":
            return (_name(first, "host name") or Health(host=first)) if first else Health()
        case "runners":
            return Runners()
        case "diagnose":
            return _diagnose(args, runbook)
        case "freshness":
            return (_name(first, "service name") or Freshness(service=first)) if first else Freshness()
        case "ui":
            return (_name(first, "service name") or Ui(service=first)) if first else Ui()
        case "runbook":
            if first is None:
                return RunbookQuery()
            procedure = runbook.find(first)
            if procedure is None or procedure.alias is None:
                known = [p.id for p in diagnosable(runbook)]
                return Unparsed(problem=Problem.UNKNOWN_PROCEDURE, given=first[:200], known=known)
            return RunbookQuery(procedure=procedure.id)
        case "restart":
            if first is None:
                return Unparsed(problem=Problem.NEEDS_ARGUMENT, given="", subject="restart", usage="restart SERVICE")
            return _name(first, "service name") or Restart(service=first)
        case "audit":
            given = first or str(AUDIT_DEFAULT)
            if not given.isdigit() or not 1 <= int(given) <= AUDIT_MAX:
                return Unparsed(problem=Problem.BAD_COUNT, given=given[:20])
            return AuditQuery(count=int(given))
        case "request" | "approve" | "reject" | "confirm" | "cancel":
            if first is None:
                return Unparsed(problem=Problem.NEEDS_ARGUMENT, given="", subject=word, usage=f"{word} ID")
            if not re.fullmatch(r"[0-9a-f]{8,32}", first.lower()):
                return Unparsed(problem=Problem.BAD_REQUEST_ID, given=first[:40])
            if word == "request":
                return RequestQuery(request=first.lower())
            return Decide(decision=DECISION_WORDS[word], request=first.lower())
    procedure = runbook.find(word)
    if procedure is not None and procedure.alias == word and word in HELP:
        return _diagnose(words, runbook)
    return Unparsed(problem=Problem.UNKNOWN_COMMAND, given=word[:200])
