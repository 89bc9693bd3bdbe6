"""Slack user groups' members (``usergroups.users.list``), for roles given to a group. The access
policy caches them (bot/usecases/access.py): the method is tier 2, about 20 calls a minute."""

from __future__ import annotations

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.people import delivery_error
from profbot.errors import FrontEndUnavailable


class SlackDirectory:
    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def members(self, group: str) -> frozenset[str]:
        try:
            response = await self.client.usergroups_users_list(usergroup=group)
        except SlackApiError as exc:
            raise delivery_error(str(exc.response.get("error")), "usergroups.users.list") from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise FrontEndUnavailable(type(exc).__name__, str(exc)) from exc
        return frozenset(str(u) for u in response.get("users") or [])
