"""The slack-bolt AsyncApp: the global middleware that reads who asked and what, and the listeners."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import listeners
from bot.slack.auth import CachedAuthorize
from bot.slack.metering import MeteredApp
from bot.slack.middleware import identify
from bot.slack.pacing import Turns
from bot.slack.render.commands import set_command_name
from bot.usecases.app import Profbot
from profbot.aio import BackgroundTasks


def build_app(
    profbot: Profbot,
    client: AsyncWebClient,
    authorize: CachedAuthorize,
    tasks: BackgroundTasks,
    command: str,
    turns: Turns | None = None,
) -> AsyncApp:
    """``turns``: the background work's, shared with the People port (a new one if not given)."""
    set_command_name(command)
    app = MeteredApp(  # an AsyncApp whose requests are counted
        # Named, bolt does not call inspect.stack() to name itself after its caller's file, which
        # read the source of every frame: about a tenth of the bot's start-up CPU. Not "profbot"
        # nor "profbot.x": bolt sets its app logger's level to the root's on every request, and
        # that would silence profbot's own loggers below the root's WARNING.
        name="profbot-slack",
        client=client,
        authorize=authorize.as_bolt_authorize(),
        # Signatures are checked once, at the HTTP edge (bot/slack/http.py), before the body is parsed.
        request_verification_enabled=False,
        # Listeners ack and hand off to BackgroundTasks; running them before the HTTP response
        # returns avoids bolt's 10 ms ack-polling loop and its unowned futures.
        process_before_response=True,
        raise_error_for_unhandled_request=False,
    )
    app.use(identify())
    listeners.register(app, profbot, tasks, command, turns or Turns())
    return app
