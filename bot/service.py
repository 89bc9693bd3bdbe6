"""``profbot serve``: the composition root. Settings, Redis and its stores, the Slack client and
its People port, the use cases on top of them, Slack's requests (over Socket Mode with
``SLACK_APP_TOKEN``, else signed HTTP requests on ``/slack/events``), and the HTTP server with the
alert webhooks, ``/healthz``, ``/readyz`` and ``/metrics`` (in both modes)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
from typing import TYPE_CHECKING

import aiohttp
import structlog
from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

import handlers
from bot import edge
from bot.alertmanager.client import AlertmanagerClient, credentials
from bot.observability import probe_routes
from bot.slack.alert_people import SlackAlertPeople
from bot.slack.app import build_app
from bot.slack.auth import CachedAuthorize
from bot.slack.directory import SlackDirectory
from bot.slack.home import SlackHomes
from bot.slack.http import slack_events_app
from bot.slack.metering import SlackCallMeter
from bot.slack.pacing import Turns
from bot.slack.people import SlackPeople
from bot.slack.shared_pacing import SharedChannelPacer, SharedRateLimitHandler
from bot.stores.alert_inbox import AlertInbox
from bot.stores.alert_ledger import RedisAlertLedger
from bot.stores.alert_marks import RedisAlertMarks
from bot.stores.audit_feed import AuditFeed
from bot.stores.change_feed import RedisChangeFeed
from bot.stores.home import RedisHealthRecords, RedisHomeViewers
from bot.stores.offers import RedisOfferStore
from bot.stores.scheduled import change_sweeper
from bot.usecases.app import Ports, Profbot, Settings
from bot.usecases.audit import AuditMirror
from bot.usecases.ports import Silencer
from bot.usecases.settings import AlertPolicy, ChangePolicy
from bot.webhooks.intake import GrafanaSignature, alert_routes, intake_not_configured
from profbot.aio import BackgroundTasks
from profbot.approvals.store import ApprovalStore
from profbot.audit import AuditLog
from profbot.bus import RESULT_GRACE_SECONDS, JobBus
from profbot.errors import ConfigError
from profbot.redis_access import Replication, connect_checked
from profbot.settings import ServeSettings

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

log = structlog.get_logger("profbot.serve")

DRAIN_SECONDS = 20.0
MAX_BODY_BYTES = 1024 * 1024  # Slack's and the alert senders' payloads stay far below this


def slack_client(
    settings: ServeSettings, session: aiohttp.ClientSession, pacer: SharedChannelPacer | None = None
) -> AsyncWebClient:
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
            SlackCallMeter(str(settings.slack_api_url)),  # first: it counts every attempt, retries none
            # A 429 pauses its channel for every replica when the pace is shared.
            SharedRateLimitHandler(pacer, max_retry_count=3)
            if pacer is not None
            else AsyncRateLimitErrorRetryHandler(max_retry_count=3),
            AsyncServerErrorRetryHandler(max_retry_count=2),
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
        ]
    )
    return client


async def warm_up(authorize: CachedAuthorize) -> asyncio.Task[None] | None:
    """Learn the workspace's identity now; a refused token stops the process, Slack away does not."""
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
        return asyncio.create_task(authorize.keep_warming(), name="slack-auth-warmup")
    return None


GC_THRESHOLDS = (20_000, 20, 100)  # Python's are (700, 10, 10)


def steady_gc() -> None:
    """The cyclic collector, tuned for a server whose acks must not wait on it. What was made so
    far lives as long as the process: frozen, the full passes do not walk it. A burst of
    requests leaves hundreds of tasks waiting on one health check; at Python's thresholds they are
    promoted to the oldest generation and collected in full passes of 100-400 ms (measured under
    the ack benchmark), every ack waiting. Collecting the young generation every 20,000
    allocations instead of 700 lets them die young: a pass of a few ms, a few times a burst.
    Start-up's garbage is collected first, so none of it is frozen for the process's life."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


async def silencers(settings: ServeSettings, resources: contextlib.AsyncExitStack) -> dict[str, Silencer]:
    """Alertmanager's silences at the address the deployment sets, with its credentials."""
    if settings.alertmanager_url is None:
        return {}
    headers = credentials(settings.alertmanager_token_file, settings.alertmanager_basic_auth_file)
    client = AlertmanagerClient(str(settings.alertmanager_url), headers)
    resources.push_async_callback(client.aclose)
    return {"alertmanager": client}


def use_case_settings(settings: ServeSettings) -> Settings:
    alerts = None
    if settings.alert_token is not None and settings.alert_channel:
        alerts = AlertPolicy(
            channel=settings.alert_channel,
            procedures=settings.alert_procedure_table,
            diagnosis_cooldown=settings.alert_diagnosis_cooldown,
        )
    return Settings(
        operators=settings.operator_ids,
        approvers=settings.approver_ids,
        job_timeout=settings.job_timeout_seconds,
        changes=ChangePolicy.of(settings),
        alerts=alerts,
    )


async def serve(settings: ServeSettings, redis_url: str, stop: asyncio.Event | None = None) -> None:
    """Serve until SIGTERM or SIGINT (or until ``stop``, when the caller owns the signals)."""
    redis = await connect_checked(redis_url)
    prefix = settings.redis_prefix
    replication = Replication.of(settings, redis_url)
    async with contextlib.AsyncExitStack() as resources:
        resources.push_async_callback(redis.aclose)
        session = await resources.enter_async_context(aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)))
        pacer = SharedChannelPacer(redis, prefix, settings.slack_channel_rate)  # one pace for all replicas
        client = slack_client(settings, session, pacer)
        authorize = CachedAuthorize(client, settings.slack_bot_token.get_secret_value())
        warming = await warm_up(authorize)
        bus = await resources.enter_async_context(JobBus(redis, prefix))
        tasks = BackgroundTasks()
        turns = Turns()  # the background work's, behind the acks: posting answers and the listeners' work
        people = SlackPeople(client, session, identity=authorize, turns=turns)
        feed = RedisChangeFeed(redis, prefix)
        ports = Ports(
            bus=bus,
            people=people,
            changes=ApprovalStore(redis, prefix, replication, executor_lease=settings.executor_lease_seconds),
            trail=AuditLog(redis, prefix),
            offers=RedisOfferStore(redis, prefix),
            directory=SlackDirectory(client),
            ledger=RedisAlertLedger(
                redis, prefix, replication, retention_seconds=int(settings.alert_retention_days * 86400)
            ),
            alert_people=SlackAlertPeople(client, session, pacer=pacer),
            feed=feed,
            health=RedisHealthRecords(redis, prefix),
            homes=SlackHomes(client),
            viewers=RedisHomeViewers(redis, prefix),
            marks=RedisAlertMarks(redis, prefix, retention_seconds=int(settings.alert_retention_days * 86400)),
            silencers=await silencers(settings, resources),
        )
        profbot = Profbot(ports, use_case_settings(settings), book=handlers.RUNBOOK, tasks=tasks)
        if not settings.operator_ids:
            log.warning("no_operators", hint="PROFBOT_OPERATORS is empty: only help and health will answer")

        own_signals = stop is None
        stop = stop or asyncio.Event()
        loops = [
            asyncio.create_task(change_sweeper(redis, prefix, stop, profbot.decisions), name="expiry-sweeper"),
            asyncio.create_task(feed.serve(stop, profbot.executor.refresh), name="change-feed"),
            # user groups' members, read before they are needed: an ack waits on no Slack call
            asyncio.create_task(profbot.access.keep_fresh(stop), name="usergroups-refresh"),
        ]
        if settings.audit_channel:
            mirrored = AuditMirror(people, settings.audit_channel)
            loops.append(asyncio.create_task(AuditFeed(redis, prefix).serve(stop, mirrored), name="audit-mirror"))
        if profbot.alerts is not None and settings.alert_token is not None:
            threads = profbot.alerts
            routes = alert_routes(
                threads.receive,
                settings.alert_token.get_secret_value(),
                GrafanaSignature(
                    settings.grafana_hmac_secret.get_secret_value(),
                    settings.grafana_hmac_header,
                    settings.grafana_hmac_timestamp_header,
                )
                if settings.grafana_hmac_secret
                else None,
            )
            loops.append(asyncio.create_task(AlertInbox(redis, prefix).serve(stop, threads), name="alert-poster"))
        else:
            routes = intake_not_configured()

        bolt = build_app(profbot, client, authorize, tasks, settings.command, turns)
        socket: AsyncSocketModeHandler | None = None
        if settings.slack_app_token is not None:
            # Socket Mode's client and adapter are imported only by a bot that uses them.
            from bot.slack import socket_mode

            app_token = settings.slack_app_token.get_secret_value()
            await socket_mode.check_app_token(client, app_token)
            socket, connecting = socket_mode.connect(bolt, client, app_token)
            resources.push_async_callback(socket_mode.close, socket, connecting)  # also if serving never starts

        slack_connected = None if socket is None else socket.client.is_connected
        web_app = web.Application(client_max_size=MAX_BODY_BYTES)
        if settings.slack_signing_secret is not None and socket is None:
            signing_secret = settings.slack_signing_secret.get_secret_value()
            web_app.add_subapp("/slack", slack_events_app(bolt, signing_secret))
        web_app.add_routes(probe_routes(redis, prefix, slack_connected))  # /healthz, /readyz, /metrics
        web_app.add_routes(routes)
        runner = web.AppRunner(web_app, access_log=None, handle_signals=False, **edge.RUNNER_OPTIONS)
        await runner.setup()
        host, _, port = settings.listen.rpartition(":")
        await edge.CappedSite(runner, host.strip("[]"), int(port), max_connections=settings.max_connections).start()
        steady_gc()
        log.info("serving", listen=settings.listen, command=settings.command, slack="socket mode" if socket else "http")

        if own_signals:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()

        log.info("shutting_down")
        if socket is not None:  # take no new envelope while finishing what was taken
            await socket_mode.close(socket, connecting)
        await runner.shutdown()
        # Long enough for a job acknowledged just before SIGTERM to be answered and posted.
        await tasks.drain(max(DRAIN_SECONDS, settings.job_timeout_seconds + RESULT_GRACE_SECONDS + 5))
        await runner.cleanup()
        await asyncio.gather(*loops, return_exceptions=True)
        if warming is not None:
            warming.cancel()
