"""A profile's words beside its flamegraph: the top functions as a monospace table and the link to
the same service and window in Pyroscope's UI. The pictures themselves are uploaded as files
(bot/slack/people.py ``attach``); their titles and alt texts are made here."""

from __future__ import annotations

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement

from bot.pictures import file_name
from bot.slack.action_ids import OPEN_LINK
from bot.slack.render.blocks import MAX_SECTION_TEXT, Message, clip, context, escape, section
from bot.slack.render.dispatch import render
from bot.usecases.content import Drawing, FlameDrawing, ProfileSummary
from handlers.profile_analysis import flamegraph_alt_text, top_functions_table, top_functions_title, window_text
from handlers.profile_units import amount

MAX_ALT_TEXT = 1000  # files.getUploadURLExternal's alt_txt limit


@render.register
def _profile_summary(content: ProfileSummary) -> Message:
    profile = content.profile
    table = "\n".join(top_functions_table(profile))
    # Code blocks show the table aligned; backticks inside a function name would end it early.
    # Escaped before it is cut, so the cut cannot take the closing fence with it.
    code = clip(escape(table.replace("```", "'''")), MAX_SECTION_TEXT - 100)
    blocks: list[Block] = [
        section(f"*{escape(top_functions_title(profile))}*\n```{code}```"),
        ActionsBlock(elements=[ButtonElement(text="Open in Pyroscope", url=profile.ui_url, action_id=OPEN_LINK)]),
        context(f"{escape(window_text(profile.start, profile.end))} · {amount(profile, profile.num_ticks)} in all"),
    ]
    # The notification text too: a function named `<!channel>` must not ping anyone.
    return Message(text=escape(f"{top_functions_title(profile)}:\n{table}\n{profile.ui_url}"), blocks=blocks)


def upload_of(drawing: Drawing) -> tuple[str, str, str]:
    """A drawing's file name, title and alt text."""
    if isinstance(drawing, FlameDrawing):
        p = drawing.profile
        title = f"Flamegraph of {p.service}, {window_text(p.start, p.end)}"
        return file_name(drawing), title, clip(flamegraph_alt_text(p), MAX_ALT_TEXT)
    h = drawing.history
    growth = f"{h.growth_per_day / 2**20:,.0f} MB a day" if h.growth_per_day is not None else "no trend yet"
    made_of = h.source or f"over {len(h.samples)} samples"
    alt = f"Chart of the {h.volume} volume's size {made_of}; growth {growth}"
    return file_name(drawing), f"Storage of {h.volume}", clip(alt, MAX_ALT_TEXT)
