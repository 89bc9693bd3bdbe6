"""Everything a Slack user sees, rendered from the use cases' content (bot/usecases/content.py),
split by feature:

- ``blocks.py``    Block Kit pieces, limits, escaping, mentions
- ``commands.py``  help, parse errors, acknowledgements, access refusals, notices
- ``reports.py``   diagnoses with their remediation buttons, evidence, health, runners, freshness, runbook
- ``changes.py``   change requests as they move, refusals, verifications, the destroy modal
- ``alerts.py``    alert threads
- ``audit.py``     the audit, listed and mirrored
- ``pictures.py``  a profile's top functions and link; the titles and alt texts of uploaded pictures

``render(content)`` answers a :class:`~bot.slack.render.blocks.Message`; importing this package
checks that every kind of content has a rendering.
"""

import typing

from bot.slack.render import alerts, audit, changes, commands, pictures, reports
from bot.slack.render.blocks import Message
from bot.slack.render.changes import destroy_modal
from bot.slack.render.dispatch import render
from bot.usecases.content import Content

_missing = [t.__name__ for t in typing.get_args(Content) if render.dispatch(t) is render.dispatch(object)]
if _missing:
    raise TypeError(f"content without a Slack rendering: {', '.join(_missing)}")

__all__ = ["Message", "alerts", "audit", "changes", "commands", "destroy_modal", "pictures", "render", "reports"]
