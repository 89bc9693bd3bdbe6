"""What the use cases say to people: domain content, rendered by each front end (bot/slack/render/
for Slack). Nothing here is markup: a front end decides how a finding, a request or a refusal looks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from bot.usecases.alert_model import Alert, AlertGroup
from bot.usecases.commands import Command, Place, Unparsed
from handlers.findings import Evidence, Finding, Remediation, Report, StorageHistory
from profbot.approvals.model import ChangeRequest
from profbot.approvals.rules import Refusal
from profbot.audit import AuditEvent
from profbot.jobs import RunnerInfo
from profbot.ops.pyroscope import FlameProfile

# ---------------------------------------------------------------------------- reads


@dataclass(frozen=True)
class Offer:
    """A remediation as offered: a front end's button carries ``id``, never the remediation."""

    id: str
    remediation: Remediation


@dataclass(frozen=True)
class DiagnosisPosted:
    report: Report
    offers: list[Offer] = field(default_factory=list)
    asked_by: str | None = None  # None: profbot ran it for an alert


@dataclass(frozen=True)
class ProfileSummary:
    """What a flamegraph report's thread says in words: the profile's top functions and the link
    to the same service and window in Pyroscope's UI (a terminal adds its text flamegraph)."""

    profile: FlameProfile


# ---------------------------------------------------------------------------- pictures
# Drawn by the front end (Slack uploads a PNG into the thread; the terminal saves it to a file).


@dataclass(frozen=True)
class FlameDrawing:
    profile: FlameProfile


@dataclass(frozen=True)
class StorageDrawing:
    history: StorageHistory


Drawing = FlameDrawing | StorageDrawing


@dataclass(frozen=True)
class HealthOverview:
    reports: list[Report]
    asked_by: str | None = None
    profiles: Report | None = None  # the freshness check against the expected services, summarised


@dataclass(frozen=True)
class RunnersOverview:
    runners: list[RunnerInfo]
    alive: frozenset[str]


@dataclass(frozen=True)
class QuickLinks:
    """The runbook's Quick Reference: where to look at a service's profiles (or at all of them)."""

    service: str | None
    pyroscope: str | None  # the Pyroscope UI, for the service when one is named
    grafana_explore: str | None  # Grafana's Explore on the Pyroscope datasource
    host: str  # whose runner gave the addresses


@dataclass(frozen=True)
class HelpLine:
    usage: str  # without the command's name: "health [HOST]"
    what: str


@dataclass(frozen=True)
class HelpListing:
    lines: list[HelpLine]


@dataclass(frozen=True)
class RunbookLine:
    procedure: str
    title: str
    usage: str


@dataclass(frozen=True)
class RunbookIndex:
    lines: list[RunbookLine]


@dataclass(frozen=True)
class RunbookEntry:
    procedure: str
    title: str
    doc: str
    usage: str


@dataclass(frozen=True)
class AuditListing:
    events: list[AuditEvent]


@dataclass(frozen=True)
class AuditEntry:
    """One audit event, as mirrored to a channel."""

    event: AuditEvent


@dataclass(frozen=True)
class Accepted:
    """A command was taken; its answer follows (a front end with a deadline acknowledges first)."""

    command: Command
    title: str | None = None  # the procedure's title, for a diagnosis


# ---------------------------------------------------------------------------- notices


@dataclass(frozen=True)
class NoRunners:
    """No runner ever registered."""


@dataclass(frozen=True)
class BusUnavailable:
    error: str


@dataclass(frozen=True)
class NoHostFor:
    target: str


@dataclass(frozen=True)
class InternalError:
    detail: str | None = None


@dataclass(frozen=True)
class CannotPostHere:
    """The place refused the bot; the content follows, to the asker alone, with how to let the bot
    in (``reason`` is the front end's word: not_in_channel, channel_not_found, is_archived, ...)."""

    reason: str
    content: Content
    channel: str | None = None  # the place that refused


@dataclass(frozen=True)
class StaleOffer:
    """A button or form that no longer stands for a runbook remediation."""


@dataclass(frozen=True)
class NotAllowed:
    user: str
    what: str  # the command's name, or "this button"


# ---------------------------------------------------------------------------- changes


@dataclass(frozen=True)
class ChangeRequested:
    request: ChangeRequest


@dataclass(frozen=True)
class AlreadyRequested:
    request: ChangeRequest


@dataclass(frozen=True)
class TargetBusy:
    """A change not filed: another request, open or running, holds its target (one at a time)."""

    wanted: str  # the label of the change that was not filed
    holder: ChangeRequest


@dataclass(frozen=True)
class ChangeNotRequested:
    reason: str


@dataclass(frozen=True)
class CooldownReached:
    label: str
    target: str
    host: str
    count: int
    per_hour: int


@dataclass(frozen=True)
class RequestNotFound:
    pass


@dataclass(frozen=True)
class AmbiguousRequest:
    """An id typed too short: it starts ``count`` requests' ids."""

    prefix: str
    count: int


@dataclass(frozen=True)
class DecisionRefused:
    refusal: Refusal
    request: ChangeRequest


@dataclass(frozen=True)
class Verified:
    request: ChangeRequest
    finding: Finding


@dataclass(frozen=True)
class ChangeAbandoned:
    """A running change whose executor died: nobody can say how it ended."""

    request: ChangeRequest
    silent_seconds: float  # how long no executor had renewed its lease


@dataclass(frozen=True)
class TypedNameForm:
    """Ask the requester to type the target's name before a destroy is filed."""

    offer_id: str
    remediation: Remediation
    place: Place  # where the request will be posted once the name is right


@dataclass(frozen=True)
class TypedNameWrong:
    expected: str


# ---------------------------------------------------------------------------- alerts


@dataclass(frozen=True)
class SilenceShown:
    """A silence made from an alert thread, as Alertmanager said it is when the parent was drawn."""

    id: str
    state: str  # active, pending or expired; "unknown" while Alertmanager does not answer
    ends_at: float | None
    by: str | None  # who made it from the thread (a front end's user id)


@dataclass(frozen=True)
class AlertThread:
    """An alert group's first message, kept up to date: its state, what people did from it
    (bot/usecases/silences.py), and, in ``silencing``, why it offers no silence when it does not."""

    group: AlertGroup
    procedure: str | None
    silence: SilenceShown | None = None
    silencing: str | None = "silencing from the thread is not set up (PROFBOT_ALERTMANAGER_URL)"
    acked_by: str | None = None
    acked_at: float | None = None


@dataclass(frozen=True)
class AlertActionFailed:
    """A click on an alert thread did nothing: why (the thread is unchanged)."""

    what: str  # "silence", "extend the silence", "expire the silence", ...
    reason: str


@dataclass(frozen=True)
class AlertsJoined:
    group: AlertGroup  # the alerts are named among the group's
    alerts: list[Alert]


@dataclass(frozen=True)
class AlertResolved:
    group: AlertGroup


@dataclass(frozen=True)
class AlertFiringAgain:
    group: AlertGroup


@dataclass(frozen=True)
class AlertNeedsTarget:
    procedure: str
    usage: str


Form = TypedNameForm

Content = Union[  # noqa: UP007 - a runtime alias that singledispatch-based renderers enumerate
    Report,
    Evidence,
    ChangeRequest,
    DiagnosisPosted,
    ProfileSummary,
    HealthOverview,
    RunnersOverview,
    QuickLinks,
    HelpListing,
    RunbookIndex,
    RunbookEntry,
    AuditListing,
    AuditEntry,
    Accepted,
    Unparsed,
    NoRunners,
    BusUnavailable,
    NoHostFor,
    InternalError,
    CannotPostHere,
    StaleOffer,
    NotAllowed,
    ChangeRequested,
    AlreadyRequested,
    TargetBusy,
    ChangeNotRequested,
    CooldownReached,
    RequestNotFound,
    AmbiguousRequest,
    DecisionRefused,
    Verified,
    ChangeAbandoned,
    TypedNameWrong,
    AlertThread,
    AlertsJoined,
    AlertResolved,
    AlertFiringAgain,
    AlertNeedsTarget,
    AlertActionFailed,
]
