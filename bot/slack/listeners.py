"""The bolt listeners: each small, with its own matcher and access middleware. They acknowledge
at once (Slack's 3 s) and hand the use case to a background task; what the use case says comes
back through the People port (bot/slack/people.py)."""

from __future__ import annotations

import re
from collections.abc import Awaitable
from typing import Any

import structlog
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.response import BoltResponse

from bot.slack import action_ids, home
from bot.slack.middleware import parsed_as, requires
from bot.slack.render import render
from bot.usecases.access import Gate
from bot.usecases.app import Profbot
from bot.usecases.commands import (
    Asker,
    AuditQuery,
    Decide,
    Diagnose,
    Freshness,
    Health,
    Help,
    RequestQuery,
    Restart,
    RunbookQuery,
    Runners,
    Ui,
    Unparsed,
)
from bot.usecases.content import (
    Accepted,
    BusUnavailable,
    InternalError,
    RequestNotFound,
    StaleOffer,
    TypedNameWrong,
)
from bot.usecases.speech import tell
from profbot.aio import BackgroundTasks

log = structlog.get_logger("profbot.slack")


def register(app: AsyncApp, profbot: Profbot, tasks: BackgroundTasks, command: str) -> None:
    people = profbot.ports.people

    def in_background(work: Awaitable[object], asker: Asker, name: str) -> None:
        async def guarded() -> None:
            try:
                await work
            except Exception:  # whoever was told "checking..." hears that it failed
                log.exception("background_work_failed", user=asker.user, task=name)
                await tell(people, asker, InternalError())

        tasks.spawn(guarded(), name=name)

    # ------------------------------------------------------------------ the slash command

    @app.command(command, matchers=[parsed_as(Unparsed)], middleware=[requires(profbot, tasks)])
    async def typed_wrong(ack: AsyncAck, context: Any) -> BoltResponse | None:
        await ack(response_type="ephemeral", **render(context["parsed"]).as_kwargs())
        return ack.response  # with process_before_response, bolt sends what the listener returns

    @app.command(command, matchers=[parsed_as(Help, RunbookQuery)], middleware=[requires(profbot, tasks)])
    async def answered_at_once(ack: AsyncAck, context: Any) -> BoltResponse | None:
        answer = profbot.answer_now(context["parsed"])
        await ack(**render(answer).as_kwargs())
        return ack.response

    @app.command(
        command,
        matchers=[parsed_as(Health, Runners, Diagnose, Freshness, Ui, Restart, AuditQuery, Decide, RequestQuery)],
        middleware=[requires(profbot, tasks)],
    )
    async def answered_later(ack: AsyncAck, context: Any) -> BoltResponse | None:
        parsed, asker = context["parsed"], context["asker"]
        procedure = profbot.book.get(parsed.procedure) if isinstance(parsed, Diagnose) else None
        text = render(Accepted(parsed, procedure.title if procedure else None)).text
        await (ack(text=text) if text else ack())
        in_background(profbot.run(asker, parsed), asker, f"command-{parsed.word}")
        return ack.response

    # ------------------------------------------------------------------ buttons and the modal

    @app.action(re.compile(rf"^{action_ids.REMEDIATE_PREFIX}"), middleware=[requires(profbot, tasks, Gate.OPERATE)])
    async def remediation_clicked(ack: AsyncAck, action: dict[str, Any], context: Any) -> BoltResponse | None:
        await ack()
        asker, offer = context["asker"], action_ids.reference(action.get("value"))
        if offer is None:
            in_background(tell(people, asker, StaleOffer()), asker, "stale-button")
        else:
            in_background(profbot.requests.remediate(asker, offer), asker, "remediation")
        return ack.response

    async def decided(ack: AsyncAck, action: dict[str, Any], context: Any) -> BoltResponse | None:
        await ack()
        asker = context["asker"]
        decision = action_ids.DECISIONS[str(action.get("action_id"))]
        request = action_ids.reference(action.get("value"))
        if request is None:
            in_background(tell(people, asker, RequestNotFound()), asker, "unknown-request")
        else:
            in_background(profbot.decisions.decide(asker, request, decision), asker, "change-decision")
        return ack.response

    @app.action(action_ids.OPEN_LINK)
    async def link_opened(ack: AsyncAck) -> BoltResponse | None:
        await ack()  # the browser opened the link; unacknowledged, Slack would mark the click failed
        return ack.response

    # Confirming or cancelling one's own change: operators. Approving or rejecting: approvers too.
    confirm_or_cancel = re.compile(rf"^({re.escape(action_ids.CONFIRM)}|{re.escape(action_ids.CANCEL)})$")
    approve_or_reject = re.compile(rf"^({re.escape(action_ids.APPROVE)}|{re.escape(action_ids.REJECT)})$")
    app.action(confirm_or_cancel, middleware=[requires(profbot, tasks, Gate.OPERATE)])(decided)
    app.action(approve_or_reject, middleware=[requires(profbot, tasks, Gate.DECIDE)])(decided)

    @app.view(action_ids.DESTROY_MODAL, middleware=[requires(profbot, tasks, Gate.OPERATE)])
    async def name_typed(ack: AsyncAck, view: dict[str, Any], context: Any) -> BoltResponse | None:
        form = action_ids.parse_form_metadata(str(view.get("private_metadata") or ""))
        try:
            typed = str(view["state"]["values"][action_ids.TYPED_BLOCK][action_ids.TYPED_INPUT]["value"] or "")
        except (KeyError, TypeError):
            form = None
        if form is None:
            answer: TypedNameWrong | StaleOffer | BusUnavailable | None = StaleOffer()
        else:
            offer, place = form
            asker = context["asker"].model_copy(update={"place": place})
            answer = await profbot.requests.typed_name(asker, offer, typed)
        if answer is None:
            await ack()  # the modal closes; the request is filed in the background
        else:
            await ack(response_action="errors", errors={action_ids.TYPED_BLOCK: render(answer).text})
        return ack.response

    home.register(app, profbot, tasks)  # the App Home tab
