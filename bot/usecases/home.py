"""A person's home (Slack: the App Home tab), built from what Redis already holds, never by asking a
runner: each host's runner (its heartbeat, its versions) and Pyroscope's last known health there;
the destroys others requested, waiting for this approver; this person's own requests and where they
stand; and for operators, the latest audit events.

It is shown when its person opens it, and again, for those a request concerns, when that request
moves: its requester, whoever decided it, and for a destroy waiting for a second person, the
approvers. Only to people who opened their home lately (``VIEWERS_SECONDS``): the others see it as
it stands the next time they open it. Pyroscope's health is remembered per host whenever a health
check or an INC-PROF-001 diagnosis reports it (:func:`remember_health`).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import structlog

from bot.usecases.access import AccessPolicy
from bot.usecases.commands import Role
from bot.usecases.home_model import HealthSeen, HomeOverview, HostStatus
from bot.usecases.ports import AuditTrail, ChangeStore, Clock, HealthRecords, HomeScreens, HomeViewers
from handlers.findings import Report
from profbot.aio import BackgroundTasks
from profbot.approvals.model import ChangeRequest, RequestState
from profbot.bus import Bus
from profbot.errors import DeliveryError, ProfbotError
from profbot.ops import OpKind

log = structlog.get_logger("profbot.home")

AUDIT_SHOWN = 10  # the latest audit events an operator's home lists
MINE_SHOWN = 10  # a person's latest requests, looked at for their home
TO_DECIDE_SHOWN = 10  # destroys waiting for an approver, listed with their buttons
ENDED_SHOWN_SECONDS = 24 * 3600  # a request that ended stays on its requester's home this long
VIEWERS_SECONDS = 7 * 24 * 3600  # who opened their home within this long see it change as requests move
SUMMARY_CHARS = 300


def ended_lately(request: ChangeRequest, now: float) -> bool:
    """Open (waiting or running), or ended within ``ENDED_SHOWN_SECONDS``."""
    if request.state.holds_target:
        return True
    ended = request.finished_at or request.decided_at or request.expires_at
    return ended >= now - ENDED_SHOWN_SECONDS


async def remember_health(records: HealthRecords | None, report: Report) -> None:
    """Keep ``report``'s verdict as Pyroscope's last known health on its host; a failure is logged."""
    if records is None:
        return
    summary = report.summary()
    seen = HealthSeen(
        host=report.host,
        verdict=report.verdict,
        summary=summary if len(summary) <= SUMMARY_CHARS else summary[: SUMMARY_CHARS - 1] + "…",
        at=report.finished_at.timestamp(),
        procedure=report.procedure,
    )
    try:
        await records.record(seen)
    except ProfbotError as exc:
        log.warning("health_unrecorded", host=report.host, error=str(exc))


@dataclass(kw_only=True)
class Homes:
    bus: Bus
    store: ChangeStore
    trail: AuditTrail
    access: AccessPolicy
    tasks: BackgroundTasks
    screens: HomeScreens | None = None  # None: the front end has no home (the terminal)
    viewers: HomeViewers | None = None
    health: HealthRecords | None = None
    clock: Clock = time.time
    _refreshing: set[str] = field(default_factory=set, init=False)
    _again: set[str] = field(default_factory=set, init=False)

    # ------------------------------------------------------------------ building

    async def build(self, user: str) -> HomeOverview:
        """``user``'s home as Redis holds it now (their roles as the access policy says)."""
        roles = await self.access.roles(user)
        try:
            return await self._build(user, roles)
        except ProfbotError as exc:
            log.warning("home_unreadable", user=user, error=str(exc))
            return HomeOverview(user=user, roles=roles, built_at=self.clock(), unavailable=str(exc))

    async def _build(self, user: str, roles: frozenset[Role]) -> HomeOverview:
        now = self.clock()
        runners = sorted(await self.bus.runners(), key=lambda r: r.host)
        alive = await self.bus.alive_hosts([r.host for r in runners])
        seen = await self.health.latest() if self.health is not None else {}
        hosts = [HostStatus(r.host, r.host in alive, r if roles else None, seen.get(r.host)) for r in runners]
        to_decide: list[ChangeRequest] = []
        if Role.APPROVER in roles:
            to_decide = [
                r for r in await self.store.pending()
                if r.state is RequestState.AWAITING_APPROVAL and r.requested_by != user
            ][:TO_DECIDE_SHOWN]  # fmt: skip
        mine = [r for r in await self.store.requested_by(user, MINE_SHOWN) if ended_lately(r, now)]
        audit = await self.trail.latest(AUDIT_SHOWN) if Role.OPERATOR in roles else None
        return HomeOverview(
            user=user, roles=roles, built_at=now, hosts=hosts, to_decide=to_decide, mine=mine, audit=audit
        )

    # ------------------------------------------------------------------ showing

    async def opened(self, user: str) -> None:
        """``user`` opened their home: remember it, and show it as it stands."""
        if self.viewers is not None:
            try:
                await self.viewers.opened(user, self.clock())
            except ProfbotError as exc:
                log.warning("home_viewer_unrecorded", user=user, error=str(exc))
        await self.refresh(user)

    async def refresh(self, user: str) -> None:
        """Show ``user``'s home again. Refreshes asked for while one runs are folded into one more
        after it, so the last one shown is built from the latest state."""
        if self.screens is None:
            return
        if user in self._refreshing:
            self._again.add(user)
            return
        self._refreshing.add(user)
        try:
            while True:
                self._again.discard(user)
                await self._publish(self.screens, user)
                if user not in self._again:
                    break
        finally:
            self._refreshing.discard(user)

    async def _publish(self, screens: HomeScreens, user: str) -> None:
        home = await self.build(user)
        try:
            await screens.publish(user, home)
        except DeliveryError as exc:
            log.warning("home_not_shown", user=user, reason=exc.reason)

    # ------------------------------------------------------------------ a request moved

    def request_moved(self, request: ChangeRequest) -> None:
        """Show the homes ``request`` concerns again, in the background."""
        if self.screens is None or self.viewers is None:
            return
        self.tasks.spawn(self._request_moved(request), name=f"home-{request.id[:8]}")

    async def _request_moved(self, request: ChangeRequest) -> None:
        try:
            users = await self.concerned(request)
        except ProfbotError as exc:
            log.warning("home_viewers_unread", request=request.id, error=str(exc))
            return
        await asyncio.gather(*(self.refresh(user) for user in sorted(users)))

    async def concerned(self, request: ChangeRequest) -> set[str]:
        """Who opened their home lately and sees ``request`` change there: its requester, whoever
        decided it, and, while a destroy waits for a second person or has just been decided, the
        approvers."""
        if self.viewers is None:
            return set()
        viewing = await self.viewers.recent(self.clock() - VIEWERS_SECONDS)
        users = {u for u in (request.requested_by, request.decided_by) if u and u in viewing}
        if request.kind is OpKind.DESTROY and not request.outcomes:
            for user in sorted(viewing - users):
                if Role.APPROVER in await self.access.roles(user):
                    users.add(user)
        return users
