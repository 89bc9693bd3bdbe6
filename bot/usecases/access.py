"""Who may do what.

Everyone may use the public commands (help, health). Everything else needs an operator; deciding
on a destroy (approve, reject) needs an approver, who need not be an operator. The finer rules of
deciding (who confirms, who approves what) are the decision table, profbot/approvals/rules.py.

Roles come from user ids and user groups (``PROFBOT_OPERATORS``, ``PROFBOT_APPROVERS``); a group's
members come from the front end's directory and are cached for a few minutes. When the directory
cannot say who is in a group, its members are treated as outside it (fail closed), keeping the last
answer if there is one. Every refusal is audited.

A front end that must answer at once (Slack's acknowledgements) asks :meth:`AccessPolicy.roles_now`,
which never waits on the directory: :meth:`AccessPolicy.keep_fresh` refreshes every group in the
background (so a cached answer is at most ``GROUP_REFRESH_SECONDS`` old while the directory
answers; an answer past ``GROUP_CACHE_SECONDS`` is read again when used), and a group not known yet
is read in the background while its members count as outside it, as when the directory cannot say.
"""

from __future__ import annotations

import asyncio
import time
from enum import StrEnum

import structlog

from bot.usecases.audit import AuditRecords
from bot.usecases.commands import PUBLIC_WORDS, Asker, Command, Decide, Role, Unparsed
from bot.usecases.ports import Clock, GroupDirectory
from profbot.aio import BackgroundTasks, SingleFlight, sleep_or_stop
from profbot.approvals.rules import Decision
from profbot.audit import AuditEvent, AuditKind
from profbot.errors import DeliveryError

log = structlog.get_logger("profbot.access")

GROUP_CACHE_SECONDS = 300.0
GROUP_REFRESH_SECONDS = 60.0  # usergroups.users.list is tier 2 (about 20 a minute): one per group a minute
# A group's members last read longer ago than this count nobody in: someone removed from the
# approvers while Slack refuses the read (rate limit, group deleted) must not keep approving.
GROUP_TRUST_SECONDS = 900.0
# After a refused read, the next is not tried for this long (not once per ack).
GROUP_RETRY_SECONDS = 30.0


class Gate(StrEnum):
    """What a person is about to do, as far as roles go."""

    PUBLIC = "public"  # help, health
    OPERATE = "operate"  # every other command, remediations, confirming one's own change
    DECIDE = "decide"  # approve or reject: approvers, who need not be operators


NEEDED: dict[Gate, frozenset[Role]] = {
    Gate.PUBLIC: frozenset(),
    Gate.OPERATE: frozenset({Role.OPERATOR}),
    Gate.DECIDE: frozenset({Role.OPERATOR, Role.APPROVER}),
}


def gate_of(command: Command | Unparsed) -> Gate:
    """A command's gate; what could not be parsed is gated as the subcommand it was meant as."""
    if isinstance(command, Unparsed):
        return Gate.PUBLIC if command.word in PUBLIC_WORDS else Gate.OPERATE
    if isinstance(command, Decide) and command.decision in (Decision.APPROVE, Decision.REJECT):
        return Gate.DECIDE
    return Gate.PUBLIC if command.public else Gate.OPERATE


def allowed(roles: frozenset[Role], gate: Gate) -> bool:
    needed = NEEDED[gate]
    return not needed or bool(needed & roles)


class NoGroups:
    """The directory of a front end without user groups (the terminal): nobody is in any group."""

    async def members(self, group: str) -> frozenset[str]:
        return frozenset()


class AccessPolicy:
    def __init__(
        self,
        operators: frozenset[str],
        approvers: frozenset[str],
        directory: GroupDirectory,
        audit: AuditRecords,
        *,
        cache_seconds: float = GROUP_CACHE_SECONDS,
        clock: Clock = time.monotonic,
        tasks: BackgroundTasks | None = None,
    ) -> None:
        """``tasks``: where :meth:`roles_now` reads a group it does not know yet."""
        self.operators = operators
        self.approvers = approvers
        self.directory = directory
        self.audit = audit
        self.cache_seconds = cache_seconds
        self.clock = clock
        self.tasks = tasks if tasks is not None else BackgroundTasks()
        self._groups: dict[str, tuple[float, frozenset[str]]] = {}
        self._refused_at: dict[str, float] = {}
        self._reads: SingleFlight[frozenset[str]] = SingleFlight()

    @property
    def groups(self) -> list[str]:
        """The user groups roles are given to (Slack's group ids start with S)."""
        return groups_in(self.operators | self.approvers)

    def roles_now(self, user: str) -> frozenset[Role]:
        """The roles known without waiting: from user ids, and from the groups' cached members. A
        group never read yet is read in the background, and meanwhile counts nobody in (fail
        closed); one read over ``cache_seconds`` ago (:meth:`keep_fresh` not running, or the
        directory refusing) still answers, and is read again in the background, up to
        ``GROUP_TRUST_SECONDS``: older, it counts nobody in."""
        roles = set()
        if self._known_member(user, self.operators):
            roles.add(Role.OPERATOR)
        if self._known_member(user, self.approvers):
            roles.add(Role.APPROVER)
        return frozenset(roles)

    async def refresh(self) -> None:
        """Read every group's members again (a group the directory cannot read keeps its last answer,
        trusted up to ``GROUP_TRUST_SECONDS`` after it was read)."""
        await asyncio.gather(*(self._read(group) for group in self.groups))

    async def keep_fresh(self, stop: asyncio.Event, every: float = GROUP_REFRESH_SECONDS) -> None:
        """Refresh the groups now, then every ``every`` seconds until ``stop``."""
        while not stop.is_set():
            try:
                await self.refresh()
            except Exception:  # never the end of the loop: the next round tries again
                log.exception("usergroups_refresh_failed")
            await sleep_or_stop(stop, every)

    async def roles(self, user: str) -> frozenset[Role]:
        roles = set()
        if await self._member(user, self.operators):
            roles.add(Role.OPERATOR)
        if await self._member(user, self.approvers):
            roles.add(Role.APPROVER)
        return frozenset(roles)

    async def refused(self, asker: Asker, what: str) -> None:
        """Record that ``asker`` was not allowed ``what`` (the caller tells them)."""
        log.info("access_refused", user=asker.user, what=what)
        await self.audit.record(
            AuditEvent(kind=AuditKind.REFUSED, actor=asker.user, outcome=f"not an operator: {what}")
        )

    def _known_member(self, user: str, principals: frozenset[str]) -> bool:
        if not user:
            return False
        if user in principals:
            return True
        for group in groups_in(principals):
            cached = self._groups.get(group)
            if self._stale(cached) and not self._backing_off(group):
                self.tasks.spawn(self._read(group), name=f"usergroup-{group}")  # for the next ones
            if user in self._trusted(cached):
                return True
        return False

    def _stale(self, cached: tuple[float, frozenset[str]] | None) -> bool:
        return cached is None or self.clock() - cached[0] >= self.cache_seconds

    def _trusted(self, cached: tuple[float, frozenset[str]] | None) -> frozenset[str]:
        if cached is None or self.clock() - cached[0] >= GROUP_TRUST_SECONDS:
            return frozenset()
        return cached[1]

    def _backing_off(self, group: str) -> bool:
        refused = self._refused_at.get(group)
        return refused is not None and self.clock() - refused < GROUP_RETRY_SECONDS

    async def _member(self, user: str, principals: frozenset[str]) -> bool:
        if not user:
            return False
        if user in principals:
            return True
        for group in groups_in(principals):
            if user in await self._group_members(group):
                return True
        return False

    async def _group_members(self, group: str) -> frozenset[str]:
        cached = self._groups.get(group)
        if cached is not None and not self._stale(cached):
            return cached[1]
        return await self._read(group)

    async def _read(self, group: str) -> frozenset[str]:
        """The group's members from the directory, cached; concurrent reads of a group share one call."""
        return await self._reads.run(group, lambda: self._read_once(group))

    async def _read_once(self, group: str) -> frozenset[str]:
        cached = self._groups.get(group)
        try:
            members = await self.directory.members(group)
        except DeliveryError as exc:
            log.warning("usergroup_unresolved", group=group, error=exc.reason)
            self._refused_at[group] = self.clock()
            return self._trusted(cached)
        self._refused_at.pop(group, None)
        self._groups[group] = (self.clock(), members)
        return members


def groups_in(principals: frozenset[str]) -> list[str]:
    """The user groups among ``principals`` (Slack's group ids start with S), in a stable order."""
    return sorted(p for p in principals if p.startswith("S"))
