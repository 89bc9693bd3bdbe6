"""In-memory fakes of the use cases' ports (bot/usecases/ports.py) and of the job bus: no Slack,
no Redis, no podman. Each keeps what it was given so a test can read it back, and behaves as its
real counterpart promises (the change store's compare-and-set and hourly budget, the offer store's
opaque ids, the bus's typed answers and its NoRunner)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from bot.usecases.alert_model import Alert, AlertGroup, AlertNotification
from bot.usecases.commands import Asker, Place
from bot.usecases.content import Content, Drawing, Form
from bot.usecases.home_model import HealthSeen, HomeOverview
from bot.usecases.ports import MessageRef
from handlers.findings import Remediation
from profbot.approvals.model import ChangeRequest, RequestState
from profbot.approvals.store import EXECUTOR_LEASE_SECONDS
from profbot.audit import Audited, AuditEvent
from profbot.errors import (
    FrontEndUnavailable,
    NoRunner,
    PlaceUnavailable,
    ProfbotError,
    RedisUnavailable,
    TargetNotFound,
)
from profbot.jobs import RunnerInfo, VolumeSample
from profbot.ops import AnyOperation, OpResult

R = TypeVar("R", bound=OpResult)


class Clock:
    """Time that moves only when a test moves it."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# ---------------------------------------------------------------------------- People


@dataclass
class Said:
    how: str  # post, update, reply, tell, ask, attach
    content: Content | Form | Drawing
    where: Place | MessageRef | Asker
    ref: MessageRef | None = None


class FakePeople:
    """Delivers everything and remembers it; channels in ``refusing`` refuse the bot (``refused``
    counts the posts they refused); posts to channels in ``timing_out`` fail with no answer (whether
    they arrived is not known)."""

    def __init__(self) -> None:
        self.said: list[Said] = []
        self.refusing: set[str] = set()
        self.refused = 0
        self.timing_out: set[str] = set()
        self.refusing_files: set[str] = set()  # channels that take messages but refuse uploads
        self.keys: dict[str, MessageRef] = {}  # idempotency key -> the parent posted with it
        self.looked_up: list[str] = []  # the keys find_keyed was asked for
        self.looked_within: list[tuple[float, float]] = []  # the windows find_keyed was asked for
        self._ts = 1000

    def _next(self, place: Place) -> MessageRef:
        if place.channel in self.refusing:
            self.refused += 1
            raise PlaceUnavailable("not_in_channel")
        if place.channel in self.timing_out:
            raise FrontEndUnavailable("TimeoutError", "no answer")
        self._ts += 1
        return MessageRef(channel=place.channel, ts=f"{self._ts}.000100", thread=place.thread)

    async def post(self, place: Place, content: Content) -> MessageRef:
        ref = self._next(place)
        self.said.append(Said("post", content, place, ref))
        return ref

    async def update(self, message: MessageRef, content: Content) -> None:
        if message.channel in self.refusing:
            self.refused += 1
            raise PlaceUnavailable("not_in_channel")
        self.said.append(Said("update", content, message, message))

    async def reply(self, message: MessageRef, content: Content) -> MessageRef:
        ref = self._next(message.thread_place)
        self.said.append(Said("reply", content, message, ref))
        return ref

    async def tell(self, person: Asker, content: Content) -> None:
        self.said.append(Said("tell", content, person))

    async def ask(self, person: Asker, form: Form) -> None:
        self.said.append(Said("ask", form, person))

    async def attach(self, message: MessageRef, drawing: Drawing) -> None:
        if message.channel in self.refusing | self.refusing_files:
            raise PlaceUnavailable("not_in_channel")
        self.said.append(Said("attach", drawing, message))

    async def post_keyed(self, place: Place, content: Content, key: str) -> MessageRef:
        """The alert threads' parents (AlertPeople): posted with their idempotency key."""
        ref = await self.post(place, content)
        self.keys[key] = ref
        return ref

    async def find_keyed(self, place: Place, key: str, since: float, until: float) -> MessageRef | None:
        self.looked_up.append(key)
        self.looked_within.append((since, until))
        found = self.keys.get(key)
        return found if found is not None and found.channel == place.channel else None

    async def link(self, message: MessageRef) -> str | None:
        return f"https://chat.example/{message.channel}/{message.ts}"

    def reaches(self, message: MessageRef) -> bool:
        """Only the messages this front end delivered itself."""
        delivered = (s.ref for s in self.said if s.how in ("post", "reply") and s.ref is not None)
        return any((r.channel, r.ts) == (message.channel, message.ts) for r in delivered)

    def of(self, kind: type, how: str | None = None) -> list[Said]:
        return [s for s in self.said if isinstance(s.content, kind) and (how is None or s.how == how)]

    def told(self, user: str) -> list[Content | Form | Drawing]:
        return [s.content for s in self.said if s.how == "tell" and isinstance(s.where, Asker) and s.where.user == user]


# ---------------------------------------------------------------------------- the job bus


Answer = Callable[[Any], OpResult]  # given the operation, typed as the test needs it


@dataclass
class Call:
    host: str
    operation: AnyOperation
    approval_id: str | None


@dataclass
class FakeBus:
    """Runners on hosts, each with containers; ``answers`` says what each operation answers
    (by name; an exception is raised as the runner's error). Unanswered operations fail with
    TargetNotFound, as a missing container would."""

    hosts: dict[str, list[str]] = field(default_factory=dict)  # host -> containers
    down: set[str] = field(default_factory=set)  # hosts whose runner stopped heartbeating
    answers: dict[str, Answer | OpResult | ProfbotError] = field(default_factory=dict)
    # (host, operation) -> its answer on that host alone, before ``answers`` (fleet-wide reads)
    answers_on: dict[tuple[str, str], Answer | OpResult | ProfbotError] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    heartbeat: dict[str, Any] = field(default_factory=dict)  # more RunnerInfo fields, on every host's
    history: dict[tuple[str, str], list[VolumeSample]] = field(default_factory=dict)
    redis_down: bool = False  # every call fails as the real bus does without Redis
    # With ``interleave``, a call yields to the event loop while it is in flight (as a real one
    # waits on Redis), so concurrent calls overlap; ``most_in_flight`` counts them, per host.
    interleave: bool = False
    in_flight: dict[str, int] = field(default_factory=dict)
    most_in_flight: dict[str, int] = field(default_factory=dict)

    def _redis(self) -> None:
        if self.redis_down:
            raise RedisUnavailable("Redis unavailable: connection refused")

    def answer(self, name: str, value: Answer | OpResult | ProfbotError) -> None:
        self.answers[name] = value

    async def call(
        self,
        host: str,
        operation: Any,
        *,
        timeout: float | None = None,
        requested_by: str | None = None,
        approval_id: str | None = None,
    ) -> Any:
        await self.ensure_runner(host)
        self.calls.append(Call(host, operation, approval_id))
        if self.interleave:
            self.in_flight[host] = self.in_flight.get(host, 0) + 1
            self.most_in_flight[host] = max(self.most_in_flight.get(host, 0), self.in_flight[host])
            try:
                await asyncio.sleep(0)
            finally:
                self.in_flight[host] -= 1
        answer = self.answers_on.get((host, operation.name)) or self.answers.get(operation.name)
        if answer is None:
            raise TargetNotFound(f"{operation.name}: nothing answered in this test")
        if isinstance(answer, ProfbotError):
            raise answer
        result = answer if isinstance(answer, OpResult) else answer(operation)
        assert isinstance(result, operation.result_type), (operation.name, type(result))
        return result

    def ran(self, name: str) -> list[Call]:
        return [c for c in self.calls if c.operation.name == name]

    async def runners(self) -> list[RunnerInfo]:
        self._redis()
        return [
            RunnerInfo(host=h, version="test", pid=1, started_at=0, last_seen=time.time(), heartbeat_seconds=0.0,
                       pyroscope_url="http://pyroscope:4040", containers=containers, **self.heartbeat)
            for h, containers in sorted(self.hosts.items())
        ]  # fmt: skip

    async def alive_hosts(self, hosts: list[str]) -> set[str]:
        self._redis()
        return {h for h in hosts if h in self.hosts and h not in self.down}

    async def hosts_for(self, container: str) -> list[str]:
        self._redis()
        return [h for h, containers in sorted(self.hosts.items()) if container in containers and h not in self.down]

    async def ensure_runner(self, host: str) -> None:
        self._redis()
        if host not in self.hosts or host in self.down:
            raise NoRunner(host)

    async def volume_history(self, host: str, volume: str) -> list[VolumeSample]:
        self._redis()
        return list(self.history.get((host, volume), []))


# ---------------------------------------------------------------------------- stores


class FakeChangeStore:
    """Requests in memory, with the Redis store's rules: one open request per change and target,
    one open or running request per target whatever the change, moves only from the allowed
    states, an hourly budget per change and target. An audited write appends its event to
    ``trail`` with the write, as the Redis store's script does: both or neither."""

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        trail: FakeAuditTrail | None = None,
        *,
        executor_lease: float = EXECUTOR_LEASE_SECONDS,
    ) -> None:
        self.clock = clock  # the Redis store's own clock (Redis's TIME)
        self.executor_lease = executor_lease
        self.trail = trail or FakeAuditTrail()
        self.requests: dict[str, ChangeRequest] = {}
        self.executions: dict[str, list[float]] = {}
        self.leases: dict[str, float] = {}  # running request -> when its executor's lease ends
        self.lease_lengths: dict[str, float] = {}  # running request -> the length of that lease
        # Set: a move is stored at once, and its answer waits for the event (Redis moved the
        # request; the reply is still on its way when the caller is cancelled).
        self.answers_held: asyncio.Event | None = None

    async def create(self, request: ChangeRequest, audit: AuditEvent | None = None) -> str:
        if request.state.pending:
            for other in self.requests.values():
                if other.state.pending and other.target_key == request.target_key:
                    return other.id
            for other in self.requests.values():
                if other.state.holds_target and other.contends_with(request):
                    return other.id
        self.requests[request.id] = request.model_copy(deep=True)
        if audit is not None:
            self.trail.events.append(audit)
        return request.id

    async def get(self, request_id: str) -> ChangeRequest | None:
        found = self.requests.get(request_id)
        return found.model_copy(deep=True) if found else None

    async def transition(
        self,
        request_id: str,
        to: RequestState,
        allowed_from: frozenset[RequestState] | set[RequestState],
        change: Callable[[ChangeRequest], None] | None = None,
        audit: Audited | None = None,
    ) -> tuple[bool, ChangeRequest | None]:
        current = self.requests.get(request_id)
        if current is None or current.state not in allowed_from:
            return False, await self.get(request_id)
        updated = current.model_copy(deep=True)
        updated.state = to
        if change is not None:
            change(updated)
        if to is RequestState.RUNNING and current.state is not RequestState.RUNNING:
            self.leases[request_id] = self.clock() + self.executor_lease  # leased as it starts
            self.lease_lengths[request_id] = self.executor_lease
        elif to is not RequestState.RUNNING:
            self.leases.pop(request_id, None)
            self.lease_lengths.pop(request_id, None)
        self.requests[request_id] = updated
        if audit is not None:
            self.trail.events.append(audit(updated))
        if self.answers_held is not None:
            await self.answers_held.wait()
        return True, updated.model_copy(deep=True)

    async def update(
        self, request_id: str, change: Callable[[ChangeRequest], None], audit: Audited | None = None
    ) -> ChangeRequest | None:
        current = self.requests.get(request_id)
        if current is None:
            return None
        change(current)
        if audit is not None:
            self.trail.events.append(audit(current))
        return current.model_copy(deep=True)

    async def ids_starting_with(self, prefix: str, limit: int = 10) -> list[str]:
        return sorted(i for i in self.requests if i.startswith(prefix))[:limit]

    async def due_for_expiry(self, now: float | None = None) -> list[str]:
        at = time.time() if now is None else now
        return [r.id for r in self.requests.values() if r.state.pending and r.expires_at <= at]

    async def take_execution_slot(self, request: ChangeRequest, per_hour: int, now: float | None = None) -> bool:
        at = time.time() if now is None else now
        recent = [t for t in self.executions.get(request.target_key, []) if t > at - 3600]
        if len(recent) >= per_hour:
            return False
        self.executions[request.target_key] = [*recent, at]
        return True

    async def executions_in_last_hour(self, request: ChangeRequest, now: float | None = None) -> int:
        at = time.time() if now is None else now
        return len([t for t in self.executions.get(request.target_key, []) if t > at - 3600])

    async def lease(self, request_id: str, seconds: float) -> None:
        until = self.clock() + seconds
        if until > self.leases.get(request_id, 0.0):
            self.leases[request_id] = until
            self.lease_lengths[request_id] = seconds

    async def lease_of(self, request_id: str) -> float | None:
        return self.lease_lengths.get(request_id)

    async def abandoned(self, limit: int = 20) -> list[str]:
        at = self.clock()
        lapsed = [
            i for i, until in self.leases.items() if until <= at and self.requests[i].state is RequestState.RUNNING
        ]
        return lapsed[:limit]

    async def requested_by(self, user: str, limit: int = 10) -> list[ChangeRequest]:
        mine = [r for r in self.requests.values() if r.requested_by == user]
        return [r.model_copy(deep=True) for r in sorted(mine, key=lambda r: -r.created_at)[:limit]]

    async def pending(self, limit: int = 50) -> list[ChangeRequest]:
        waiting = sorted((r for r in self.requests.values() if r.state.pending), key=lambda r: r.expires_at)
        return [r.model_copy(deep=True) for r in waiting[:limit]]


@dataclass
class FakeChangeFeed:
    """Remembers what was announced, in order; ``down`` fails as Redis would."""

    announced: list[str] = field(default_factory=list)
    down: bool = False

    async def announce(self, request_id: str) -> None:
        if self.down:
            raise RedisUnavailable("Redis unavailable: connection refused")
        self.announced.append(request_id)


class FakeAuditTrail:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    async def append(self, event: AuditEvent) -> str:
        self.events.append(event)
        return str(len(self.events))

    async def latest(self, count: int) -> list[AuditEvent]:
        return list(reversed(self.events))[:count]

    def kinds(self) -> list[str]:
        return [e.kind.value for e in self.events]


class FakeHealthRecords:
    """The last health seen per host; ``down`` fails as Redis would."""

    def __init__(self) -> None:
        self.seen: dict[str, HealthSeen] = {}
        self.down = False

    async def record(self, seen: HealthSeen) -> None:
        if self.down:
            raise RedisUnavailable("Redis unavailable: connection refused")
        self.seen[seen.host] = seen

    async def latest(self) -> dict[str, HealthSeen]:
        if self.down:
            raise RedisUnavailable("Redis unavailable: connection refused")
        return dict(self.seen)


class FakeHomeViewers:
    def __init__(self) -> None:
        self.opened_at: dict[str, float] = {}

    async def opened(self, user: str, at: float) -> None:
        self.opened_at[user] = at

    async def recent(self, since: float) -> set[str]:
        return {user for user, at in self.opened_at.items() if at >= since}


class FakeHomeScreens:
    """Every home published, in order."""

    def __init__(self) -> None:
        self.published: list[tuple[str, HomeOverview]] = []

    async def publish(self, user: str, home: HomeOverview) -> None:
        self.published.append((user, home))

    def of(self, user: str) -> list[HomeOverview]:
        return [home for who, home in self.published if who == user]

    def users(self) -> list[str]:
        return [who for who, _ in self.published]


class FakeOfferStore:
    def __init__(self) -> None:
        self.offers: dict[str, Remediation] = {}

    async def put(self, remedy: Remediation) -> str:
        offer_id = uuid.uuid4().hex
        self.offers[offer_id] = remedy
        return offer_id

    async def get(self, offer_id: str) -> Remediation | None:
        return self.offers.get(offer_id)


class FakeDirectory:
    def __init__(self, groups: dict[str, set[str]] | None = None) -> None:
        self.groups = groups or {}
        self.asked = 0
        self.failing: ProfbotError | None = None

    async def members(self, group: str) -> frozenset[str]:
        self.asked += 1
        if self.failing is not None:
            raise self.failing
        return frozenset(self.groups.get(group, set()))


class FakeLedger:
    """Alert groups in memory, kept as the Redis ledger keeps them. ``failing_set_thread``: that many
    next set_thread calls fail as Redis would (after the parent was posted)."""

    INCIDENT_FIELDS: ClassVar = {"incident", "previous_thread_ts", "previous_channel", "previous_link", "posting_key",
                       "posting_since"}  # fmt: skip

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.groups: dict[str, AlertGroup] = {}
        self.parked_: set[str] = set()
        self.announced_: dict[str, set[str]] = {}
        self.diagnosed: dict[tuple[str, int], float] = {}
        self.failing_set_thread = 0
        self.clock = clock

    async def record(self, notification: AlertNotification) -> str:
        gid, now = notification.group_id, self.clock()
        old = self.groups.get(gid)
        alerts: dict[str, Alert] = dict(old.alerts) if old else {}
        alerts.update({a.identity: a for a in notification.alerts})
        self.groups[gid] = AlertGroup(
            id=gid, source=notification.source, group_key=notification.group_key, status=notification.status,
            receiver=notification.receiver, group_labels=notification.group_labels,
            common_labels=notification.common_labels, common_annotations=notification.common_annotations,
            external_url=notification.external_url, title=notification.title, truncated=notification.truncated,
            first_seen=old.first_seen if old else now, last_seen=now,
            notifications=(old.notifications if old else 0) + 1,
            thread_ts=old.thread_ts if old else None, channel=old.channel if old else None,
            resolved_at=old.resolved_at if old else None, resolved_posted=old.resolved_posted if old else False,
            alerts=alerts,
            **(old.model_dump(include=self.INCIDENT_FIELDS) if old else {}),
        )  # fmt: skip
        return gid

    async def group(self, gid: str) -> AlertGroup | None:
        found = self.groups.get(gid)
        return found.model_copy(deep=True) if found else None

    async def set_thread(self, gid: str, channel: str, ts: str) -> None:
        if self.failing_set_thread > 0:
            self.failing_set_thread -= 1
            raise RedisUnavailable("Redis unavailable: connection lost")
        self.groups[gid] = self.groups[gid].model_copy(
            update={"thread_ts": ts, "channel": channel, "posting_key": None, "posting_since": None}
        )

    async def begin_parent(self, gid: str, key: str, at: float) -> None:
        self.groups[gid] = self.groups[gid].model_copy(update={"posting_key": key, "posting_since": at})

    async def forget_parent(self, gid: str, key: str) -> None:
        if self.groups[gid].posting_key == key:
            self.groups[gid] = self.groups[gid].model_copy(update={"posting_key": None, "posting_since": None})

    async def park(self, gid: str) -> None:
        self.parked_.add(gid)

    async def unpark(self, gid: str) -> None:
        self.parked_.discard(gid)

    async def parked(self) -> list[str]:
        return sorted(self.parked_)

    async def open_incident(self, group: AlertGroup, previous_link: str | None) -> None:
        current = self.groups[group.id]
        if current.incident != group.incident:
            return
        self.groups[group.id] = current.model_copy(update={
            "incident": group.incident + 1, "previous_thread_ts": group.thread_ts, "previous_channel": group.channel,
            "previous_link": previous_link, "first_seen": group.last_seen,
            "notifications": current.notifications - group.notifications + 1, "thread_ts": None,
            "channel": None, "resolved_at": None, "resolved_posted": False, "posting_key": None, "posting_since": None,
            "alerts": {fp: a for fp, a in current.alerts.items() if a.status != "resolved"},
        })  # fmt: skip
        self.announced_.pop(group.id, None)

    async def set_resolved(self, gid: str, at: float) -> None:
        self.groups[gid] = self.groups[gid].model_copy(update={"resolved_at": at, "resolved_posted": True})

    async def announced(self, gid: str) -> set[str]:
        return set(self.announced_.get(gid, set()))

    async def announce(self, gid: str, fingerprints: list[str]) -> None:
        self.announced_.setdefault(gid, set()).update(fingerprints)

    async def claim_diagnosis(self, gid: str, incident: int, cooldown: float) -> bool:
        now = self.clock()
        if cooldown > 0 and now < self.diagnosed.get((gid, incident), -1.0) + cooldown:
            return False
        self.diagnosed[gid, incident] = now
        return True
