"""Help, what was typed wrong, acknowledgements, refusals and the notices every feature shares."""

from __future__ import annotations

from bot.slack.render.blocks import Message, clip, escape, mention, section
from bot.slack.render.dispatch import render
from bot.usecases.commands import AUDIT_MAX, MINUTES_MAX, Diagnose, Freshness, Health, Problem, Restart, Unparsed
from bot.usecases.content import (
    Accepted,
    BusUnavailable,
    CannotPostHere,
    HelpListing,
    InternalError,
    NoHostFor,
    NoRunners,
    NotAllowed,
    StaleOffer,
)
from bot.usecases.reads import help_listing

_command = "/prof"


def set_command_name(name: str) -> None:
    """The slash command's name as configured (PROFBOT_COMMAND), which help shows in every line."""
    global _command
    _command = name


def help_message(listing: HelpListing) -> Message:
    command = _command
    lines = [f"`{command} {line.usage}`: {line.what}" for line in listing.lines]
    return Message(
        text=f"{command} commands: " + ", ".join(line.usage.split()[0] for line in listing.lines),
        blocks=[section("*profbot commands*\n" + "\n".join(lines))],
    )


@render.register
def _help(content: HelpListing) -> Message:
    return help_message(content)


@render.register
def _unparsed(content: Unparsed) -> Message:
    given = clip(content.given, 100)
    match content.problem:
        case Problem.UNKNOWN_COMMAND:
            base = help_message(help_listing())
            return Message(
                text=f"Unknown command `{escape(given)}`. {base.text}",
                blocks=[section(f":grey_question: Unknown command `{escape(given)}`."), *base.blocks],
            )
        case Problem.UNKNOWN_PROCEDURE:
            text = f":x: No runbook procedure `{escape(clip(content.given, 60))}`. Known: {', '.join(content.known)}."
        case Problem.NEEDS_ARGUMENT:
            text = f":x: {content.subject} needs an argument: `{content.usage}`."
        case Problem.BAD_NAME:
            text = f":x: `{escape(given)}` is not a {content.noun} (letters, digits, `.`, `_` and `-` only)."
        case Problem.BAD_REQUEST_ID:
            text = f":x: `{escape(given)}` is not a request id: give its first 8 characters or more."
        case Problem.BAD_COUNT:
            text = f":x: `{escape(clip(content.given, 20))}` is not a count: give a number from 1 to {AUDIT_MAX}."
        case Problem.BAD_MINUTES:
            text = (
                f":x: `{escape(clip(content.given, 20))}` is not a number of minutes: "
                f"give a number from 1 to {MINUTES_MAX}."
            )
    return Message(text=text)


@render.register
def _accepted(content: Accepted) -> Message:
    command = content.command
    if isinstance(command, Health):
        text = ":hourglass_flowing_sand: Checking Pyroscope health; the answer will appear in this channel."
    elif isinstance(command, Diagnose):
        target = f"`{command.argument}`" if command.argument else "every profiled service on every host"
        text = (
            f":mag: Running {command.procedure} ({content.title}) for {target}; "
            "the findings will appear in this channel."
        )
    elif isinstance(command, Freshness):
        text = ":mag: Asking Pyroscope which services sent profiles in the last 5 minutes."
    elif isinstance(command, Restart):
        text = f":mag: Looking up `{command.service}` to prepare its restart."
    else:
        text = ""
    return Message(text=text)


@render.register
def _not_allowed(content: NotAllowed) -> Message:
    return Message(
        text=f":no_entry: {mention(content.user)}, you are not an operator of profbot: {content.what} is not "
        "allowed. `help` and `health` are open to everyone; ask in the channel for an operator."
    )


@render.register
def _no_runners(_: NoRunners) -> Message:
    text = (
        ":red_circle: No runner registered: no host has ever answered. Start `profbot runner` on the "
        "podman host (see deploy/ in the profbot repository)."
    )
    return Message(text="Pyroscope health: no runner registered", blocks=[section(text)])


@render.register
def _bus_unavailable(content: BusUnavailable) -> Message:
    text = f":red_circle: profbot cannot reach its Redis job bus, so no runner could be asked: {escape(content.error)}"
    return Message(text="profbot cannot reach Redis", blocks=[section(text)])


@render.register
def _no_host(content: NoHostFor) -> Message:
    return Message.of(f":red_circle: No heartbeating runner reports a container named `{content.target}`.")


@render.register
def _internal(content: InternalError) -> Message:
    detail = f" (`{escape(content.detail)}`)" if content.detail else ""
    return Message(text=f":boom: Something went wrong inside profbot; the error is in its log.{detail}")


def cannot_post_message(content: CannotPostHere, bot_user: str | None = None) -> Message:
    """Why the answer comes privately, and plainly what lets the bot in (``bot_user``: its user id,
    from auth.test, shown as its name; else "@profbot")."""
    me = mention(bot_user) if bot_user else "@profbot"
    channel = content.channel or ""
    where = f"<#{channel}>" if channel[:1] in ("C", "G") else "this channel"
    reason = escape(content.reason)
    fixes = {
        "not_in_channel": f"I am not in {where}. Invite me: /invite {me} in {where}.",
        "channel_not_found": f"I cannot see {where} (`channel_not_found`): a private channel I was not invited to, "
        f"or a conversation I cannot join. In a private channel, invite me: /invite {me} in {where}; "
        "else ask in a channel I am in.",
        "is_archived": f"{where} is archived (`is_archived`): nobody can post in it. Unarchive it, or ask in "
        "another channel.",
    }
    fix = fixes.get(content.reason, f"I may not post in {where} (`{reason}`). Ask in a channel I am in.")
    note = f":warning: {fix}\nHere is the answer, visible only to you:"
    inner = render(content.content)
    return Message(f"{note}\n{inner.text}", [section(note), *inner.blocks])


@render.register
def _cannot_post(content: CannotPostHere) -> Message:
    return cannot_post_message(content)


@render.register
def _stale(_: StaleOffer) -> Message:
    return Message(text=":x: This button no longer matches a runbook remediation; run the diagnosis again.")
