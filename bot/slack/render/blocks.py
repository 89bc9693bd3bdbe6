"""Block Kit building blocks and Slack's limits.

Built with slack_sdk's model classes. slack_sdk does not check every Block Kit limit in
``to_dict()`` (not Slack's 50-block message limit or its 3000-character section text limit),
so :class:`Message` enforces them itself: an over-long
text is cut and the cut is said, never refused by Slack as ``invalid_blocks``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, MarkdownTextObject, SectionBlock

from handlers.findings import Severity

# Block Kit limits (Slack's docs, "Block Kit" reference; slack-platform.md).
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_MESSAGE_TEXT = 40_000
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ACTIONS_ELEMENTS = 25

ICON = {
    Severity.OK: ":white_check_mark:",
    Severity.INFO: ":information_source:",
    Severity.WARNING: ":warning:",
    Severity.CRITICAL: ":red_circle:",
}

_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,30}$")


def clip(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    # The suffix is sized for the largest count it could show, so the result always fits.
    keep = limit - len(f"… ({len(text)} more characters cut)")
    return f"{text[:keep]}… ({len(text) - keep} more characters cut)"


def escape(text: str) -> str:
    """Slack's control characters in text that came from a container or a runner: a healthcheck
    printing `<!channel>` must not ping a channel, nor `<http://x|fix>` pass for a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, label: str) -> str | None:
    """A Slack link to ``url``, or None when it cannot be one safely: only http(s), and no ``|`` or
    ``>`` in it (either would end the address early and make the rest a label or a second link)."""
    if not url.startswith(("http://", "https://")) or "|" in url or ">" in url:
        return None
    return f"<{url.replace(' ', '%20')}|{label}>"


def mention(user: str | None) -> str:
    """A person as Slack shows them: a Slack user as a mention, anyone else (shell:NAME) by name."""
    if not user:
        return "profbot"
    return f"<@{user}>" if _SLACK_USER.match(user) else f"`{escape(user)}`"


def section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=clip(text, MAX_SECTION_TEXT)))


def header(text: str) -> HeaderBlock:
    return HeaderBlock(text=clip(text, MAX_HEADER_TEXT))


def context(*texts: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=clip(t, 2000)) for t in texts[:MAX_CONTEXT_ELEMENTS]])


def utc(ts: datetime) -> str:
    return f"{ts.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def at(epoch: float) -> str:
    return f"{datetime.fromtimestamp(epoch, UTC):%H:%M:%S} UTC"


@dataclass
class Message:
    text: str  # the notification and screen-reader text; also what clients without blocks show
    blocks: list[Block] = field(default_factory=list)

    @classmethod
    def of(cls, text: str) -> Message:
        """A one-section message whose notification text is the section's."""
        return cls(text=text, blocks=[section(text)])

    def as_kwargs(self) -> dict[str, Any]:
        """The message as chat.postMessage, chat.update, chat.postEphemeral, a ``response_url`` and
        ``ack()`` take it, with link and media unfurls off: a log line's URL or a runner's address
        must not grow a preview in the channel (Slack ignores them where they do not apply)."""
        blocks = list(self.blocks)
        if len(blocks) > MAX_BLOCKS:
            dropped = len(blocks) - (MAX_BLOCKS - 1)
            blocks = [*blocks[: MAX_BLOCKS - 1], context(f"_{dropped} more blocks not shown_")]
        return {
            "text": clip(self.text, MAX_MESSAGE_TEXT),
            "blocks": [b.to_dict() for b in blocks],
            "unfurl_links": False,
            "unfurl_media": False,
        }
