"""Change requests as they move (waiting -> decided by whom -> each step -> the result), the answers
to those who decide, verifications, and the destroy modal that asks for the target's name."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    InputBlock,
    PlainTextInputElement,
    PlainTextObject,
)
from slack_sdk.models.views import View

from bot.slack import action_ids
from bot.slack.render.blocks import ICON, Message, at, clip, context, escape, header, mention, section
from bot.slack.render.dispatch import render
from bot.usecases.content import (
    AlreadyRequested,
    AmbiguousRequest,
    ChangeAbandoned,
    ChangeNotRequested,
    ChangeRequested,
    CooldownReached,
    DecisionRefused,
    RequestNotFound,
    TargetBusy,
    TypedNameForm,
    TypedNameWrong,
    Verified,
)
from handlers.findings import Severity
from profbot.approvals.model import ChangeRequest, RequestState
from profbot.approvals.rules import Refusal
from profbot.ops import OpKind

STATE_WORDS = {
    RequestState.AWAITING_CONFIRMATION: ":hourglass_flowing_sand: waiting for the requester's confirmation",
    RequestState.AWAITING_APPROVAL: ":hourglass_flowing_sand: waiting for a second person's approval",
    RequestState.RUNNING: ":gear: running",
    RequestState.SUCCEEDED: ":white_check_mark: succeeded",
    RequestState.FAILED: ":x: failed",
    RequestState.UNKNOWN: ":grey_question: outcome unknown: check the target before trying again",
    RequestState.EXPIRED: ":alarm_clock: expired: nothing ran",
    RequestState.REJECTED: ":no_entry_sign: rejected: nothing ran",
    RequestState.CANCELLED: ":leftwards_arrow_with_hook: cancelled: nothing ran",
}


def _step_lines(request: ChangeRequest) -> str:
    done = {o.index: o for o in request.outcomes}
    lines = []
    for i, step in enumerate(request.steps):
        outcome = done.get(i)
        if outcome is None:
            running = request.state is RequestState.RUNNING and i == len(request.outcomes)
            icon = ":gear:" if running else ":white_small_square:"
            lines.append(f"{icon} `{step.op}` {escape(step.text)}")
        else:
            icon = ":white_check_mark:" if outcome.ok else ":x:"
            detail = "; ".join(outcome.lines) if outcome.ok else (outcome.error or "failed")
            lines.append(f"{icon} `{step.op}` {escape(step.text)}: {escape(detail)}")
    return "\n".join(lines)


@render.register
def request_message(request: ChangeRequest) -> Message:
    """The request as it stands: what runs where, its impact, its state; buttons only while pending."""
    destroy = request.kind is OpKind.DESTROY
    title = f"{'Destroy' if destroy else 'Change'} request: {request.label}"
    target = request.identity.describe() if request.identity else f"`{request.target}`"
    blocks: list[Block] = [
        header(title),
        section(
            f"*What runs* on host `{escape(request.host)}` ({request.procedure}, `{request.action}`):\n"
            f"{_step_lines(request)}\n"
            f"*Target:* {escape(target)}\n*Impact:* {escape(request.impact)}"
        ),
    ]
    state = STATE_WORDS[request.state]
    if request.decided_by and request.decided_at:
        verb = {
            RequestState.REJECTED: "rejected",
            RequestState.CANCELLED: "cancelled",
        }.get(request.state, "approved" if destroy else "confirmed")
        state += f" · {verb} by {mention(request.decided_by)} at {at(request.decided_at)}"
    if request.error and request.state is not RequestState.SUCCEEDED:
        state += f"\n{escape(clip(request.error, 1500))}"
    if request.verification:
        icon = ICON.get(Severity(request.verification_severity or "info"), "")
        state += f"\n*Verification:* {icon} {escape(request.verification)}"
    blocks.append(section(f"*State:* {state}"))
    if request.state is RequestState.AWAITING_CONFIRMATION:
        blocks.append(
            ActionsBlock(
                elements=[
                    ButtonElement(
                        text="Confirm: run it", action_id=action_ids.CONFIRM, value=request.id, style="primary"
                    ),
                    ButtonElement(text="Cancel", action_id=action_ids.CANCEL, value=request.id),
                ]
            )
        )
    elif request.state is RequestState.AWAITING_APPROVAL:
        blocks.append(
            ActionsBlock(
                elements=[
                    ButtonElement(text="Approve", action_id=action_ids.APPROVE, value=request.id, style="danger"),
                    ButtonElement(text="Reject", action_id=action_ids.REJECT, value=request.id),
                ]
            )
        )
    who = (
        f"requested by {mention(request.requested_by)} · only they can confirm"
        if not destroy
        else f"requested by {mention(request.requested_by)} · an approver other than the requester must approve"
    )
    pending = f" · expires {at(request.expires_at)}" if request.state.pending else ""
    blocks.append(context(f"{who}{pending} · request `{request.id[:12]}`"))
    return Message(text=f"{escape(title)}: {STATE_WORDS[request.state]}", blocks=blocks)


def _already_decided(request: ChangeRequest) -> str:
    state = STATE_WORDS[request.state]
    if request.decided_by and request.decided_at:
        done = f"{state}: handled by {mention(request.decided_by)} at {at(request.decided_at)}"
    else:
        done = state
    result = ""
    if request.outcomes:
        result = "\nResult: " + "; ".join(
            ("; ".join(o.lines) if o.ok else (o.error or "failed")) for o in request.outcomes
        )
    return clip(
        f":information_source: `{request.label}` is already {done}. Nothing more was run.{escape(result)}", 3000
    )


@render.register
def _refused(content: DecisionRefused) -> Message:
    r = content.request
    match content.refusal:
        case Refusal.ALREADY_DECIDED:
            text = _already_decided(r)
        case Refusal.ONLY_REQUESTER:
            text = f":lock: Only {mention(r.requested_by)}, who requested `{r.label}`, can confirm or cancel it."
        case Refusal.SECOND_PERSON:
            text = (
                f":lock: You requested `{r.label}`: a destroy needs a *second* person's approval, "
                "even when the requester is an approver. Nothing was run."
            )
        case Refusal.NOT_APPROVER:
            text = f":lock: Only profbot's approvers can approve or reject `{r.label}`. Nothing was run."
        case Refusal.NOT_OPERATOR:
            text = f":lock: Only profbot's operators can confirm `{r.label}`. Nothing was run."
        case Refusal.NEEDS_CONFIRMATION:
            text = (
                f":lock: `{r.label}` is a change: {mention(r.requested_by)}, who requested it, confirms it; "
                "there is nothing to approve. Nothing was run."
            )
    return Message(text=text)


@render.register
def _ambiguous(content: AmbiguousRequest) -> Message:
    return Message(text=f":x: `{content.prefix}` starts {content.count} requests' ids: give more of the id.")


@render.register
def _not_found(_: RequestNotFound) -> Message:
    return Message(
        text=":x: This change request is not known any more (it was never stored, or it is over 30 days old)."
    )


@render.register
def _cooldown(content: CooldownReached) -> Message:
    return Message(
        text=f":octagonal_sign: `{escape(content.label)}` already ran {content.count} times on "
        f"`{escape(content.target)}` (host `{escape(content.host)}`) in the last hour; the limit is "
        f"{content.per_hour}. Repeating it is not fixing it: escalate to the Pyroscope owners. Nothing was run."
    )


@render.register
def _already_requested(content: AlreadyRequested) -> Message:
    r = content.request
    return Message(
        text=f":information_source: `{escape(r.label)}` on host `{escape(r.host)}` is already requested "
        f"(`{r.id[:12]}`, by {mention(r.requested_by)}, {STATE_WORDS[r.state]}): use that request. "
        "Nothing new was filed."
    )


@render.register
def _target_busy(content: TargetBusy) -> Message:
    r = content.holder
    started = f", started by {mention(r.decided_by)}" if r.state is RequestState.RUNNING and r.decided_by else ""
    return Message(
        text=f":no_entry: `{escape(content.wanted)}` was not filed: `{escape(r.target)}` on host `{escape(r.host)}` "
        f"is held by `{escape(r.label)}` (`{r.id[:12]}`), requested by {mention(r.requested_by)}, "
        f"since {at(r.held_since)}{started}: {STATE_WORDS[r.state]}. One change at a time per target: wait for it "
        "to finish, or have it cancelled. Nothing new was filed."
    )


@render.register
def _requested(content: ChangeRequested) -> Message:
    r = content.request
    how = "approve" if r.kind is OpKind.DESTROY else "confirm"
    return Message(
        text=f":memo: Change request `{r.id[:12]}` posted: {how} it in the thread before {at(r.expires_at)}."
    )


@render.register
def _not_requested(content: ChangeNotRequested) -> Message:
    return Message(text=f":x: The change was not requested: {escape(content.reason)}. Nothing was run.")


@render.register
def _verified(content: Verified) -> Message:
    f = content.finding
    return Message.of(
        f"{ICON[f.severity]} Verification of `{escape(content.request.label)}`: {escape(f.check)}: {escape(f.detail)}"
    )


@render.register
def _abandoned(content: ChangeAbandoned) -> Message:
    r = content.request
    return Message.of(
        f":grey_question: `{escape(r.label)}` (`{r.id[:12]}`): no profbot process has run it for over "
        f"{content.silent_seconds:.0f}s, so nobody can say how it ended. Its remaining steps will not run; check "
        f"the target on host `{escape(r.host)}` before trying again."
    )


@render.register
def _typed_wrong(content: TypedNameWrong) -> Message:
    return Message(
        text=f"That is not `{escape(content.expected)}`: type the volume name exactly to request its deletion."
    )


def destroy_modal(form: TypedNameForm) -> View:
    """The typed confirmation: the registry's label and the runbook's impact, and a field for the name."""
    remedy = form.remediation
    return View(
        type="modal",
        callback_id=action_ids.DESTROY_MODAL,
        private_metadata=action_ids.form_metadata(form.offer_id, form.place),
        title=PlainTextObject(text="Confirm a destroy"),
        submit=PlainTextObject(text="Request approval"),
        close=PlainTextObject(text="Cancel"),
        blocks=[
            section(
                f":warning: *{escape(remedy.label)}* on host `{remedy.host}` ({remedy.procedure}).\n"
                f"{escape(remedy.impact)}\nA second person from the approvers must approve before anything runs."
            ),
            InputBlock(
                block_id=action_ids.TYPED_BLOCK,
                label=PlainTextObject(text=clip(f"Type {remedy.target} to confirm", 2000)),
                element=PlainTextInputElement(action_id=action_ids.TYPED_INPUT, placeholder=remedy.target[:150]),
            ),
        ],
    )
