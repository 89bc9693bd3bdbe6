"""A channel profbot is set to post in (the alert channel, the audit channel) that refuses the bot:
it is not in it (``not_in_channel``), cannot see it (``channel_not_found``), or it is archived
(``is_archived``). No retry fixes that: a person must invite the bot, unarchive the channel or
correct the setting. So for each channel:

- the first refusal for a reason is logged as an error with its fix, once, not per message: until the
  channel takes a post again (that is logged too) a refusal for the same reason is not logged again;
- every refusal is counted (``profbot_channel_refusals_total{role, error}``);
- the channel is tried again only after a wait, from :data:`FIRST_WAIT` doubling to :data:`LAST_WAIT`,
  or sooner when the caller has something new for it (:meth:`ChannelRefusals.wake`): what was not
  posted stays stored meanwhile (the alert ledger, the audit stream), so the bot is never retried
  in a loop, and nothing is lost.

``profbot doctor`` names the refusal and its fix for the configured channels (bot/slack/doctor.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import structlog

from bot.usecases.ports import Clock
from profbot.metrics import CHANNEL_REFUSALS

log = structlog.get_logger("profbot.channels")

FIRST_WAIT = 60.0
LAST_WAIT = 900.0
KNOWN = frozenset({"not_in_channel", "channel_not_found", "is_archived", "restricted_action", "not_a_slack_channel"})
FIXES = {
    "not_in_channel": "invite the bot: /invite @profbot in the channel",
    "channel_not_found": "check the channel's id (at the bottom of its details); a private channel: "
    "/invite @profbot in it first",
    "is_archived": "unarchive the channel, or set another one",
    "restricted_action": "a workspace admin restricts who may post there: let the bot post, or set another channel",
}


@dataclass
class Refused:
    reason: str
    since: float
    tries: int  # refusals in a row
    retry_at: float


class ChannelRefusals:
    def __init__(self, role: str, clock: Clock = time.time) -> None:
        """``role``: what the channel is for ("alert", "audit"), in logs and metrics."""
        self.role = role
        self.clock = clock
        self.refused_now: dict[str, Refused] = {}  # channel -> its refusal, until it takes a post

    def wait(self, channel: str) -> float:
        """Seconds before ``channel`` may be tried again; 0: now."""
        refused = self.refused_now.get(channel)
        return 0.0 if refused is None else max(0.0, refused.retry_at - self.clock())

    def refused(self, channel: str, reason: str) -> None:
        """``channel`` refused a post: counted, logged the first time, tried again after a wait."""
        CHANNEL_REFUSALS.labels(role=self.role, error=reason if reason in KNOWN else "other").inc()
        now, before = self.clock(), self.refused_now.get(channel)
        tries = before.tries + 1 if before is not None else 1
        retry_at = now + min(FIRST_WAIT * 2 ** (tries - 1), LAST_WAIT)
        self.refused_now[channel] = Refused(reason, before.since if before else now, tries, retry_at)
        if before is None or before.reason != reason:
            log.error(
                "channel_refuses_bot", role=self.role, channel=channel, error=reason,
                fix=FIXES.get(reason, "let the bot post in the channel, or set another one"),
                retry_in=round(retry_at - now), hint="profbot doctor checks it",
            )  # fmt: skip

    def accepted(self, channel: str) -> None:
        """``channel`` took a post: whatever it refused before, it takes the bot now."""
        refused = self.refused_now.pop(channel, None)
        if refused is not None:
            log.info("channel_accepts_bot", role=self.role, channel=channel, refused=refused.reason,
                     refused_for=round(self.clock() - refused.since))  # fmt: skip

    def wake(self, channel: str) -> None:
        """Something new is to be posted in ``channel``: it may be tried at once (once: refused again,
        it waits again, longer)."""
        refused = self.refused_now.get(channel)
        if refused is not None:
            refused.retry_at = min(refused.retry_at, self.clock())
