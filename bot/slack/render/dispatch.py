"""One renderer per kind of content, registered by the feature modules beside this one."""

from __future__ import annotations

from functools import singledispatch

from bot.slack.render.blocks import Message


@singledispatch
def render(content: object) -> Message:
    raise TypeError(f"no Slack rendering for {type(content).__name__}")
