"""``profbot serve``: wire settings, Redis, the Slack client and the HTTP server together."""

from __future__ import annotations

import asyncio
import signal

import aiohttp
import structlog
from aiohttp import web
from redis.exceptions import RedisError
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

import handlers
from bot.access import AccessPolicy
from bot.alert_intake import alert_routes, intake_not_configured
from bot.alert_ledger import AlertLedger
from bot.alert_threads import AlertPoster, AlertSettings, ChannelPacer
from bot.app import CachedAuthorize, build_app
from bot.audit import AuditLog, AuditMirror
from bot.changes import ChangeFlow
from bot.context import BotDeps, ChangePolicy
from bot.http import build_web_app
from bot.tasks import BackgroundTasks, SingleFlight
from profbot import bus as job_bus
from profbot.approvals import ApprovalStore
from profbot.errors import ConfigError
from profbot.settings import ServeSettings

log = structlog.get_logger("profbot.serve")

DRAIN_SECONDS = 20.0


def slack_client(settings: ServeSettings, session: aiohttp.ClientSession) -> AsyncWebClient:
    # One shared session: slack_sdk otherwise opens a new session and connection per API call.
    client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=str(settings.slack_api_url),
        timeout=10,
        session=session,
    )
    # Retries sleep (429 Retry-After, 5xx, connection errors) only in background work: every
    # listener has already acked before it posts anything.
    client.retry_handlers.extend(
        [
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
            AsyncServerErrorRetryHandler(max_retry_count=2),
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
        ]
    )
    return client


async def keep_warming(authorize: CachedAuthorize) -> None:
    """Retry auth.test in the background, so the first request does not pay for it before its ack."""
    while True:
        await asyncio.sleep(5)
        try:
            await authorize.warm()
            log.info("slack_identity_after_retry")
            return
        except Exception as exc:
            log.warning("slack_auth_test_retry_failed", error=str(exc))


async def serve(settings: ServeSettings) -> None:
    redis = await job_bus.connect_checked(settings.redis_url)

    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
    client = slack_client(settings, session)
    warming: asyncio.Task[None] | None = None
    token = settings.slack_bot_token.get_secret_value()
    authorize = CachedAuthorize(client, token)
    try:
        identity = await authorize.warm()
        log.info("slack_identity", team=identity.team_id, bot_user=identity.bot_user_id)
    except SlackApiError as exc:
        error = exc.response.get("error")
        if error in ("invalid_auth", "not_authed", "account_inactive", "token_revoked"):
            raise ConfigError(f"SLACK_BOT_TOKEN was refused by Slack ({error})") from None
        log.warning("slack_auth_test_failed", error=str(error))
    except Exception as exc:  # Slack briefly unreachable must not keep the bot down
        log.warning("slack_unreachable_at_start", error=str(exc))
        warming = asyncio.create_task(keep_warming(authorize), name="slack-auth-warmup")

    bus = job_bus.JobBus(redis, settings.redis_prefix)
    bus.waiter.start()
    tasks = BackgroundTasks()
    audit = AuditLog(redis, settings.redis_prefix)
    if not settings.operator_ids:
        log.warning("no_operators", hint="PROFBOT_OPERATORS is empty: only help and health will answer")
    deps = BotDeps(
        bus=bus,
        client=client,
        tasks=tasks,
        runbook=handlers.RUNBOOK,
        command=settings.command,
        job_timeout=settings.job_timeout_seconds,
        reports=SingleFlight(),
        approvals=ApprovalStore(redis, settings.redis_prefix),
        audit=audit,
        access=AccessPolicy(client, settings.operator_ids, settings.approver_ids),
        change_policy=ChangePolicy(
            approval_ttl=settings.approval_ttl_seconds,
            changes_per_hour=settings.changes_per_hour,
            verify_seconds=settings.verify_seconds,
        ),
    )
    bolt = build_app(deps, authorize)
    stop = asyncio.Event()
    loops = [asyncio.create_task(ChangeFlow(deps).sweep(stop), name="expiry-sweeper")]
    if settings.audit_channel:
        loops.append(asyncio.create_task(AuditMirror(audit, client, settings.audit_channel).run(stop), name="audit"))

    async def health() -> dict[str, str]:
        try:
            await redis.ping()
            redis_state = "ok"
        except (RedisError, OSError) as exc:
            redis_state = f"unreachable: {exc}"
        return {"status": "ok", "redis": redis_state, "background_tasks": str(len(tasks))}

    ledger = AlertLedger(redis, settings.redis_prefix)
    if settings.alert_token is not None and settings.alert_channel:
        routes = alert_routes(
            ledger,
            settings.alert_token.get_secret_value(),
            settings.grafana_hmac_secret.get_secret_value() if settings.grafana_hmac_secret else None,
        )
        alert_settings = AlertSettings(
            channel=settings.alert_channel,
            procedures=settings.alert_procedure_table,
            diagnosis_cooldown=settings.alert_diagnosis_cooldown,
        )
        poster = AlertPoster(deps, ledger, alert_settings, ChannelPacer(settings.slack_channel_rate))
        loops.append(asyncio.create_task(poster.run(stop), name="alert-poster"))
    else:
        routes = intake_not_configured()
    web_app = build_web_app(bolt, settings.slack_signing_secret.get_secret_value(), health, routes)
    runner = web.AppRunner(web_app, access_log=None, handle_signals=False)
    await runner.setup()
    host, _, port = settings.listen.rpartition(":")
    await web.TCPSite(runner, host.strip("[]"), int(port)).start()
    log.info("serving", listen=settings.listen, command=settings.command)

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()

    log.info("shutting_down")
    await runner.shutdown()
    # Long enough for a job acknowledged just before SIGTERM to be answered and posted.
    await tasks.drain(max(DRAIN_SECONDS, settings.job_timeout_seconds + job_bus.RESULT_GRACE_SECONDS + 5))
    await runner.cleanup()
    await asyncio.gather(*loops, return_exceptions=True)
    await bus.waiter.stop()
    if warming is not None:
        warming.cancel()
    await redis.aclose()
    await session.close()
