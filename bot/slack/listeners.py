"""The bolt listeners: each small, with its own matcher and access middleware. They acknowledge
at once (Slack's 3 s) and hand the use case to a background task, which starts after the ack is
sent and in turns (bot/slack/pacing.py) with the rest; what the use case says comes back through
the People port (bot/slack/people.py)."""

from __future__ import annotations

import re
from collections.abc import Awaitable
from typing import Any

import structlog
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.response import BoltResponse

from bot.slack import action_ids, home
from bot.slack.middleware import requires
from bot.slack.pacing import Turns
from bot.slack.render import render
from bot.usecases.access import Gate
from bot.usecases.app import Profbot
from bot.usecases.commands import (
    Asker,
    Diagnose,
    Help,
    RunbookQuery,
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


def register(app: AsyncApp, profbot: Profbot, tasks: BackgroundTasks, command: str, turns: Turns) -> None:
    people = profbot.ports.people

    def in_background(work: Awaitable[object], asker: Asker, name: str) -> None:
        async def guarded() -> None:
            try:
                await turns.take()  # after the ack is sent, and in turns with the other requests' work
                await work
            except Exception:  # whoever was told "checking..." hears that it failed
                log.exception("background_work_failed", user=asker.user, task=name)
                await tell(people, asker, InternalError())

        tasks.spawn(guarded(), name=name)

    # ------------------------------------------------------------------ the slash command

    # One listener, one matcher: bolt runs every listener's matchers in turn, on the ack path.
    @app.command(command, middleware=[requires(profbot, tasks)])
    async def slash_command(ack: AsyncAck, context: Any) -> BoltResponse | None:
        parsed, asker = context["parsed"], context["asker"]
        if isinstance(parsed, Unparsed):  # typed wrong
            await ack(response_type="ephemeral", **render(parsed).as_kwargs())
        elif isinstance(parsed, Help | RunbookQuery):  # answered at once
            await ack(**render(profbot.answer_now(parsed)).as_kwargs())
        else:  # answered later
            procedure = profbot.book.get(parsed.procedure) if isinstance(parsed, Diagnose) else None
            text = render(Accepted(parsed, procedure.title if procedure else None)).text
            await (ack(text=text) if text else ack())
            in_background(profbot.run(asker, parsed), asker, f"command-{parsed.word}")
        return ack.response  # with process_before_response, bolt sends what the listener returns

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

    @app.action(re.compile(rf"^{action_ids.ALERT_PREFIX}"), middleware=[requires(profbot, tasks, Gate.OPERATE)])
    async def alert_clicked(ack: AsyncAck, action: dict[str, Any], context: Any) -> BoltResponse | None:
        await ack()
        asker, gid, clicked = (
            context["asker"],
            action_ids.alert_group(action.get("value")),
            str(action.get("action_id")),
        )
        actions = profbot.alert_actions
        if gid is None or actions is None:
            in_background(tell(people, asker, StaleOffer()), asker, "stale-alert-button")
        elif clicked.startswith(action_ids.ALERT_SILENCE):
            hours = clicked.removeprefix(action_ids.ALERT_SILENCE)
            in_background(
                actions.silence(asker, gid, float(hours) if hours in ("1", "4", "24") else 0), asker, "silence"
            )
        elif clicked == action_ids.ALERT_EXTEND:
            in_background(actions.extend(asker, gid), asker, "silence-extend")
        elif clicked == action_ids.ALERT_EXPIRE:
            in_background(actions.expire(asker, gid), asker, "silence-expire")
        elif clicked in (action_ids.ALERT_ACK, action_ids.ALERT_RELEASE):
            in_background(actions.acknowledge(asker, gid, clicked == action_ids.ALERT_ACK), asker, "alert-ack")
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
