"""What the use cases need from the world, as ports each side implements.

- :class:`People`: the one narrow port to talk to people (post, update, reply in a thread, tell one
  person privately, ask for a form). Each front end implements it (bot/slack/people.py); what is
  said is domain content (bot/usecases/content.py), which the front end renders. Failures arrive
  as :class:`~profbot.errors.DeliveryError`. :class:`AlertPeople` adds what the alert threads
  need (a parent posted once, by its idempotency key; a link to a previous thread).
- The stores: change requests (:class:`ChangeStore`, Redis: profbot/approvals/store.py), the audit
  trail (:class:`AuditTrail`: profbot/audit.py), offered actions (:class:`OfferStore`:
  bot/stores/offers.py), alerts (:class:`AlertLedger`: bot/stores/alert_ledger.py), Pyroscope's
  last known health per host and who opened their home (:class:`HealthRecords`,
  :class:`HomeViewers`: bot/stores/home.py).
- :class:`Silencer`: Alertmanager's silences (bot/alertmanager/client.py); what people did in an
  alert thread is :class:`AlertMarksStore` (bot/stores/alert_marks.py).
- :class:`HomeScreens`: a front end's per-person home (Slack: the App Home tab), if it has one.
- The job bus is :class:`profbot.bus.Bus`; group membership is :class:`GroupDirectory`.

Tests hand the use cases in-memory fakes of every one of these (tests/unit/fakes.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from bot.usecases.alert_model import AlertGroup, AlertNotification
from bot.usecases.commands import Asker, Place
from bot.usecases.content import Content, Drawing, Form
from bot.usecases.home_model import HealthSeen, HomeOverview
from bot.usecases.silence_model import AlertMarks, Silence, SilenceSpec
from handlers.findings import Remediation
from profbot.approvals.model import ChangeRequest, RequestState
from profbot.audit import Audited, AuditEvent

Clock = Callable[[], float]


class MessageRef(BaseModel):
    """A message a front end delivered, to update it or reply in its thread."""

    model_config = ConfigDict(frozen=True)

    channel: str
    ts: str
    thread: str | None = None  # the thread it was posted in, if any

    @property
    def thread_place(self) -> Place:
        """Where replies to this message go: its own thread, or the thread it is in."""
        return Place(channel=self.channel, thread=self.thread or self.ts)


class People(Protocol):
    """How use cases talk to people. Every method raises DeliveryError when it cannot deliver."""

    async def post(self, place: Place, content: Content) -> MessageRef: ...

    async def update(self, message: MessageRef, content: Content) -> None: ...

    async def reply(self, message: MessageRef, content: Content) -> MessageRef: ...

    async def tell(self, person: Asker, content: Content) -> None: ...

    async def ask(self, person: Asker, form: Form) -> None: ...

    async def attach(self, message: MessageRef, drawing: Drawing) -> None:
        """Draw ``drawing`` and put the picture in ``message``'s thread (Slack: an uploaded PNG;
        a terminal: a PNG file whose path it prints)."""
        ...

    def reaches(self, message: MessageRef) -> bool:
        """Whether this front end shows ``message`` (Slack: a message in its channels; a terminal:
        one it printed itself): what another process changed is shown where it reaches."""
        ...


class AlertPeople(People, Protocol):
    """The alert threads' People. A thread's parent carries an idempotency key that the front end
    keeps with the message (Slack: the message's metadata), so a parent whose ts was never stored
    (Redis failing right after the post) is found by its key instead of being posted twice."""

    async def post_keyed(self, place: Place, content: Content, key: str) -> MessageRef: ...

    async def find_keyed(self, place: Place, key: str, since: float, until: float) -> MessageRef | None:
        """The message posted in ``place`` with ``key`` (by :meth:`post_keyed`) between ``since`` and
        ``until`` (epoch seconds), looked up in one bounded read of that window; None when there
        is none (or the window holds more than one read shows)."""
        ...

    async def link(self, message: MessageRef) -> str | None:
        """A link a person can follow to ``message`` (Slack: its permalink); None where there is none."""
        ...


class ChangeFeed(Protocol):
    async def announce(self, request_id: str) -> None:
        """A change request moved: front ends in other processes show it where they reach it."""
        ...


class GroupDirectory(Protocol):
    async def members(self, group: str) -> frozenset[str]:
        """The members of a user group; raises DeliveryError when the front end cannot say."""
        ...


class ChangeStore(Protocol):
    """Change requests. A write that is audited takes its event along and writes both at once:
    a process killed after the write cannot have left it unaudited, and a write refused (already
    decided, say) records no event."""

    async def create(self, request: ChangeRequest, audit: AuditEvent | None = None) -> str:
        """Store it, with ``audit``'s event if it was stored; the id of the request stored (another
        id: the same change already open, or the request holding its target)."""
        ...

    async def get(self, request_id: str) -> ChangeRequest | None: ...

    async def transition(
        self,
        request_id: str,
        to: RequestState,
        allowed_from: frozenset[RequestState] | set[RequestState],
        change: Callable[[ChangeRequest], None] | None = None,
        audit: Audited | None = None,
    ) -> tuple[bool, ChangeRequest | None]:
        """Move it to ``to`` from one of ``allowed_from``, ``change`` applied on the way, and
        ``audit``'s event (made from the request as moved) written with the move, only if it moved."""
        ...

    async def update(
        self, request_id: str, change: Callable[[ChangeRequest], None], audit: Audited | None = None
    ) -> ChangeRequest | None: ...

    async def due_for_expiry(self, now: float | None = None) -> list[str]: ...

    async def ids_starting_with(self, prefix: str, limit: int = 10) -> list[str]: ...

    async def take_execution_slot(self, request: ChangeRequest, per_hour: int, now: float | None = None) -> bool: ...

    async def lease(self, request_id: str, seconds: float) -> None:
        """The request's executor is alive for ``seconds`` more (a lease only grows)."""
        ...

    async def lease_of(self, request_id: str) -> float | None:
        """The length of the lease that sets when its executor counts as gone (None: not running)."""
        ...

    async def abandoned(self, limit: int = 20) -> list[str]:
        """Running requests whose executor's lease lapsed (the process running them died)."""
        ...

    async def executions_in_last_hour(self, request: ChangeRequest, now: float | None = None) -> int: ...

    async def requested_by(self, user: str, limit: int = 10) -> list[ChangeRequest]:
        """The latest requests ``user`` filed, newest first."""
        ...

    async def pending(self, limit: int = 50) -> list[ChangeRequest]:
        """Requests waiting for a decision."""
        ...


class AuditTrail(Protocol):
    async def append(self, event: AuditEvent) -> str: ...

    async def latest(self, count: int) -> list[AuditEvent]: ...


class OfferStore(Protocol):
    async def put(self, remedy: Remediation) -> str:
        """Keep an offered remediation; the opaque id a button carries."""
        ...

    async def get(self, offer_id: str) -> Remediation | None: ...


class AlertLedger(Protocol):
    async def record(self, notification: AlertNotification) -> str:
        """Store a notification durably; its group's id."""
        ...

    async def group(self, gid: str) -> AlertGroup | None: ...

    async def set_thread(self, gid: str, channel: str, ts: str) -> None:
        """The current incident's thread; the post begun (:meth:`begin_parent`) is done."""
        ...

    async def begin_parent(self, gid: str, key: str, at: float) -> None:
        """A parent is about to be posted with ``key``: until :meth:`set_thread`, look for it first."""
        ...

    async def forget_parent(self, gid: str, key: str) -> None:
        """The post begun with ``key`` was refused outright (nothing was posted): no look-up for it."""
        ...

    async def park(self, gid: str) -> None:
        """The group's channel refused the bot: keep the group to bring up to date later."""
        ...

    async def unpark(self, gid: str) -> None: ...

    async def parked(self) -> list[str]:
        """The groups parked, waiting for their channel to take the bot."""
        ...

    async def open_incident(self, group: AlertGroup, previous_link: str | None) -> None:
        """``group`` (as last read) fired again after its resolution: its next incident, with no
        thread yet, the current one's thread kept as the previous one, the alerts still resolved
        left behind. What the intake stored since ``group`` was read stays: an alert that fired
        again, the notifications counted. Nothing when the group is no longer at ``group.incident``."""
        ...

    async def set_resolved(self, gid: str, at: float) -> None: ...

    async def announced(self, gid: str) -> set[str]: ...

    async def announce(self, gid: str, fingerprints: list[str]) -> None: ...

    async def claim_diagnosis(self, gid: str, incident: int, cooldown: float) -> bool:
        """True once per cooldown per incident of the group: whether to run the diagnosis."""
        ...


class Silencer(Protocol):
    """Alertmanager's silences (API v2; Grafana's Alertmanager-compatible API speaks the same).
    Failures arrive as :class:`~profbot.errors.SilencerError`: ``SilencerUnavailable`` when it did
    not answer, ``SilenceRefused`` when it said no."""

    async def create(self, spec: SilenceSpec) -> str:
        """Post a silence (a change to one, with ``spec.id``); the id Alertmanager gives it."""
        ...

    async def get(self, silence_id: str) -> Silence | None:
        """The silence as Alertmanager holds it now; None if it knows no such silence."""
        ...

    async def expire(self, silence_id: str) -> None: ...


class AlertMarksStore(Protocol):
    """What people did in an alert group's thread (bot/stores/alert_marks.py)."""

    async def marks(self, gid: str) -> AlertMarks | None: ...

    async def put(self, gid: str, marks: AlertMarks) -> None: ...


class HealthRecords(Protocol):
    async def record(self, seen: HealthSeen) -> None:
        """Keep the latest health seen on its host (the one before is replaced)."""
        ...

    async def latest(self) -> dict[str, HealthSeen]:
        """The latest health seen on each host checked."""
        ...


class HomeViewers(Protocol):
    async def opened(self, user: str, at: float) -> None:
        """``user`` opened their home: they are shown its changes for a while."""
        ...

    async def recent(self, since: float) -> set[str]:
        """Who opened their home since ``since`` (epoch seconds)."""
        ...


class HomeScreens(Protocol):
    async def publish(self, user: str, home: HomeOverview) -> None:
        """Show ``home`` as ``user``'s home; raises DeliveryError when it cannot."""
        ...
