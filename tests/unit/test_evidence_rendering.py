"""Long evidence as a person sees it: in Slack an excerpt whose whole goes up as a file, at a
terminal an excerpt whose whole is saved to a file; short evidence whole; nothing said to be "not
shown". And what the asker reads where a channel refuses the bot."""

from __future__ import annotations

import re
from pathlib import Path

from bot.shell.people import TerminalPeople
from bot.slack.render import render
from bot.slack.render.commands import cannot_post_message
from bot.slack.render.reports import evidence_message, evidence_upload
from bot.usecases.content import CannotPostHere, NoRunners
from bot.usecases.ports import MessageRef
from handlers.findings import Evidence
from tests.rig.slack_standin import block_errors

LOG = Evidence(title="backend: /tmp/profiler.log", lines=[f"line {i:04d} level=info <ok>" for i in range(1500)])
SHORT = Evidence(title="pyroscope: last 100 log lines", lines=["level=info msg=ready", "level=error msg=boom"])


def shown(kwargs: dict) -> str:
    return "\n".join(b["text"]["text"] if "text" in b else b["elements"][0]["text"] for b in kwargs["blocks"])


def test_long_evidence_is_an_excerpt_in_the_message_and_the_whole_as_a_file() -> None:
    message = render(LOG).as_kwargs()
    text = shown(message)
    assert block_errors(message["blocks"]) == []
    assert "line 1499 level=info &lt;ok&gt;" in text and "line 1489 " not in text  # the last ten lines
    assert "last 10 of 1,500 lines · all 1,500 lines in the file below" in text
    assert "not shown" not in text
    upload = evidence_upload(LOG)
    assert upload is not None
    filename, title, content = upload
    assert title == "backend: /tmp/profiler.log"
    assert re.fullmatch(r"backend-tmp-profiler\.log-\d{8}T\d{6}Z-[0-9a-f]{6}\.txt", filename), filename
    assert content.splitlines() == LOG.lines  # every line, as shipped (unescaped: a file is no markup)


def test_short_evidence_is_shown_whole_with_no_file() -> None:
    text = shown(render(SHORT).as_kwargs())
    assert "level=error msg=boom" in text and "file" not in text
    assert evidence_upload(SHORT) is None


def test_an_upload_refused_is_said_in_the_excerpt() -> None:
    text = shown(evidence_message(LOG, upload_error="missing_scope").as_kwargs())
    assert "the whole could not be uploaded (missing_scope)" in text


def test_what_the_runner_left_on_the_host_is_said_as_such() -> None:
    item = LOG.model_copy(update={"omitted_lines": 42})
    assert "42 earlier lines left on the host" in shown(render(item).as_kwargs())


def test_every_message_goes_with_unfurls_off() -> None:
    for content in (LOG, SHORT, NoRunners()):
        kwargs = render(content).as_kwargs()
        assert kwargs["unfurl_links"] is False and kwargs["unfurl_media"] is False


def test_a_channel_that_refuses_the_bot_is_answered_with_the_invite_to_type() -> None:
    refused = CannotPostHere("not_in_channel", NoRunners(), channel="C0PROFOPS")
    text = cannot_post_message(refused, "U0PROFBOT").text
    assert "I am not in <#C0PROFOPS>. Invite me: /invite <@U0PROFBOT> in <#C0PROFOPS>." in text
    assert text.endswith("visible only to you:\nPyroscope health: no runner registered")  # the answer follows
    assert "/invite @profbot in <#C0PROFOPS>" in render(refused).text  # the bot's id unknown: its name
    archived = cannot_post_message(CannotPostHere("is_archived", NoRunners(), channel="C0OLD"), "U0PROFBOT").text
    assert "<#C0OLD> is archived" in archived and "/invite" not in archived


async def test_the_shell_prints_an_excerpt_and_saves_every_line_to_a_file(tmp_path: Path) -> None:
    out: list[str] = []
    people = TerminalPeople(out.append, evidence=tmp_path / "evidence")
    thread = MessageRef(channel="shell", ts="1")

    await people.reply(thread, LOG)
    await people.reply(thread, SHORT)

    long, short = out
    saved = re.search(r"all 1500 lines saved to (\S+\.txt)", long)
    assert saved is not None, long
    assert Path(saved.group(1)).parent == tmp_path / "evidence"
    assert Path(saved.group(1)).read_text().splitlines() == LOG.lines
    assert "line 1499 level=info <ok>" in long and "line 1489 " not in long
    assert short.splitlines()[1:] == ["    level=info msg=ready", "    level=error msg=boom"]
    assert "not shown" not in long + short
