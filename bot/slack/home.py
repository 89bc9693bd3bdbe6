"""Slack's App Home: ``app_home_opened`` shows the person their home (``views.publish``), built by
the home use case (bot/usecases/home.py) from what Redis holds. The event is acknowledged at once
(bolt acknowledges events itself); building and publishing happen in the background."""

from __future__ import annotations

from typing import Any

import aiohttp
import structlog
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.people import delivery_error
from bot.slack.render.home import home_view
from bot.usecases.app import Profbot
from bot.usecases.home_model import HomeOverview
from profbot.aio import BackgroundTasks
from profbot.errors import FrontEndUnavailable

log = structlog.get_logger("profbot.slack")


class SlackHomes:
    """The HomeScreens port: a person's App Home tab."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def publish(self, user: str, home: HomeOverview) -> None:
        try:
            await self.client.views_publish(user_id=user, view=home_view(home))
        except SlackApiError as exc:
            code = str(exc.response.get("error") or "unknown_error")
            log.warning("slack_refused", method="views_publish", error=code)
            raise delivery_error(code, "views_publish") from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise FrontEndUnavailable(type(exc).__name__, f"Slack views_publish: {exc}") from exc


def register(app: AsyncApp, profbot: Profbot, tasks: BackgroundTasks) -> None:
    @app.event("app_home_opened")
    async def home_opened(event: dict[str, Any]) -> None:
        user = str(event.get("user") or "")
        if event.get("tab") != "home" or not user:  # the Messages tab: nothing to publish
            return
        tasks.spawn(profbot.homes.opened(user), name="home-opened")
