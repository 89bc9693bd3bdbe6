"""The scheduled work of the bot, each piece once per deployment (profbot/schedule.py): every
``profbot serve`` replica and every shell runs these loops, and only the lease's holder works."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from bot.usecases.decisions import SWEEP_SECONDS, Decisions
from profbot.schedule import ScheduleLease, run_scheduled

# A holder renews every sweep (2 s); one that died hands the sweeps over within this.
SWEEPER_LEASE_SECONDS = 10.0


async def change_sweeper(redis: aioredis.Redis, prefix: str, stop: asyncio.Event, decisions: Decisions) -> None:
    """Expiring undecided requests and reaping abandoned ones, on one replica at a time."""
    lease = ScheduleLease(redis, prefix, "change-sweeper", ttl=SWEEPER_LEASE_SECONDS)
    await run_scheduled(lease, stop, decisions.sweep_once, SWEEP_SECONDS)
