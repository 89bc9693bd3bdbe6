"""A person's App Home tab (``views.publish``): each host's runner and Pyroscope's last known
health, the destroys waiting for this approver, their own requests, and for operators the latest
audit events. Its buttons are the request messages' own (action ids and values: bot/slack/
action_ids.py), so the listeners that decide on a request from its message decide on it here too.
"""

from __future__ import annotations

from datetime import UTC, datetime

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, DividerBlock
from slack_sdk.models.views import View

from bot.slack import action_ids
from bot.slack.render.audit import audit_sections
from bot.slack.render.blocks import ICON, at, clip, context, escape, header, mention, section, utc
from bot.slack.render.changes import STATE_WORDS
from bot.usecases.commands import Role
from bot.usecases.home_model import HomeOverview, HostStatus
from profbot.approvals.model import ChangeRequest, RequestState

MAX_HOME_BLOCKS = 100  # Block Kit: 100 blocks in a Home tab (slack-platform.md)
HOSTS_SHOWN = 20


def home_view(home: HomeOverview) -> View:
    roles = ", ".join(sorted(r.value for r in home.roles)) or "no profbot role (health only)"
    blocks: list[Block] = [
        header("profbot"),
        context(f"You: {mention(home.user)}, {roles} · updated {at(home.built_at)} · `/prof help` lists the commands"),
    ]
    if home.unavailable:
        blocks.append(section(f":warning: profbot could not read all of this: {escape(clip(home.unavailable, 500))}"))
    blocks += _hosts(home)
    if Role.APPROVER in home.roles:
        blocks += _to_decide(home.to_decide)
    if home.roles or home.mine:
        blocks += _mine(home.mine)
    if home.audit is not None:
        blocks += _audit(home)
    if len(blocks) > MAX_HOME_BLOCKS:
        dropped = len(blocks) - (MAX_HOME_BLOCKS - 1)
        blocks = [*blocks[: MAX_HOME_BLOCKS - 1], context(f"_{dropped} more blocks not shown_")]
    return View(type="home", blocks=blocks)


def _host_text(status: HostStatus) -> str:
    state = ":large_green_circle:" if status.alive else ":red_circle:"
    line = f"{state} *{escape(status.host)}*"
    runner = status.runner
    if runner is not None:
        podman = f"podman {escape(runner.podman_version)}" if runner.podman_version else "podman unreachable"
        beat = "last heartbeat" if status.alive else "not heartbeating since"
        line += f" · runner {escape(runner.version)}, {beat} {utc(runner.last_seen_at)} · {podman}"
    elif not status.alive:
        line += " · runner not heartbeating"
    seen = status.health
    if seen is None:
        health = "Pyroscope: not checked yet (`/prof health`)"
    else:
        when = utc(datetime.fromtimestamp(seen.at, UTC))
        health = f"Pyroscope: {ICON[seen.verdict]} {escape(seen.summary)} _({seen.procedure}, {when})_"
    return f"{line}\n{health}"


def _hosts(home: HomeOverview) -> list[Block]:
    blocks: list[Block] = [DividerBlock(), header("Hosts")]
    if not home.hosts and not home.unavailable:
        blocks.append(section("No runner has registered yet: start `profbot runner` on each podman host."))
    blocks += [section(_host_text(h)) for h in home.hosts[:HOSTS_SHOWN]]
    if len(home.hosts) > HOSTS_SHOWN:
        blocks.append(context(f"{len(home.hosts) - HOSTS_SHOWN} more hosts: `/prof runners`, `/prof health`"))
    return blocks


def _target(request: ChangeRequest) -> str:
    return escape(request.identity.describe()) if request.identity else f"`{escape(request.target)}`"


def _to_decide(requests: list[ChangeRequest]) -> list[Block]:
    blocks: list[Block] = [DividerBlock(), header("Waiting for your decision")]
    if not requests:
        blocks.append(context("No destroy waits for your approval."))
    for r in requests:
        blocks.append(
            section(
                f"*{escape(r.label)}* on host `{escape(r.host)}` · target {_target(r)}\n*Impact:* {escape(r.impact)}\n"
                f"requested by {mention(r.requested_by)} · expires {at(r.expires_at)} · request `{r.id[:12]}`"
            )
        )
        blocks.append(
            ActionsBlock(
                elements=[
                    ButtonElement(text="Approve", action_id=action_ids.APPROVE, value=r.id, style="danger"),
                    ButtonElement(text="Reject", action_id=action_ids.REJECT, value=r.id),
                ]
            )
        )
    return blocks


def _own_buttons(request: ChangeRequest) -> ActionsBlock | None:
    """Confirm or cancel one's own change; cancel (withdraw) one's own destroy."""
    if request.state is RequestState.AWAITING_CONFIRMATION:
        return ActionsBlock(
            elements=[
                ButtonElement(text="Confirm: run it", action_id=action_ids.CONFIRM, value=request.id, style="primary"),
                ButtonElement(text="Cancel", action_id=action_ids.CANCEL, value=request.id),
            ]
        )
    if request.state is RequestState.AWAITING_APPROVAL:
        return ActionsBlock(elements=[ButtonElement(text="Cancel", action_id=action_ids.CANCEL, value=request.id)])
    return None


def _mine(requests: list[ChangeRequest]) -> list[Block]:
    blocks: list[Block] = [DividerBlock(), header("Your requests")]
    if not requests:
        blocks.append(context("You have no open request, and none ended in the last day."))
    for r in requests:
        state = STATE_WORDS[r.state]
        if r.decided_by and r.decided_by != r.requested_by and r.decided_at:
            state += f" · decided by {mention(r.decided_by)} at {at(r.decided_at)}"
        if r.error and r.state is not RequestState.SUCCEEDED:
            state += f"\n{escape(clip(r.error, 300))}"
        waiting = f" · expires {at(r.expires_at)}" if r.state.pending else ""
        blocks.append(
            section(
                f"*{escape(r.label)}* on host `{escape(r.host)}` · target {_target(r)}\n*State:* {state}\n"
                f"filed {at(r.created_at)}{waiting} · request `{r.id[:12]}`"
            )
        )
        buttons = _own_buttons(r)
        if buttons is not None:
            blocks.append(buttons)
    return blocks


def _audit(home: HomeOverview) -> list[Block]:
    events = home.audit or []
    blocks: list[Block] = [DividerBlock(), header(f"Audit: the latest {len(events)} events" if events else "Audit")]
    if not events:
        blocks.append(context("The audit log is empty."))
    return blocks + audit_sections(events)
