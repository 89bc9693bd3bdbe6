"""Diagnoses with their remediation buttons, their evidence, health, runners, freshness, the runbook."""

from __future__ import annotations

from datetime import UTC, datetime

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement

from bot.slack.action_ids import OPEN_LINK, remediation_action_id
from bot.slack.render.blocks import (
    ICON,
    MAX_ACTIONS_ELEMENTS,
    MAX_BUTTON_TEXT,
    MAX_SECTION_TEXT,
    Message,
    clip,
    context,
    escape,
    header,
    link,
    mention,
    section,
    utc,
)
from bot.slack.render.dispatch import render
from bot.usecases.content import (
    DiagnosisPosted,
    HealthOverview,
    Offer,
    QuickLinks,
    RunbookEntry,
    RunbookIndex,
    RunnersOverview,
)
from handlers.evidence import excerpt, file_name, file_text, left_on_host
from handlers.findings import Evidence, Report, Severity
from profbot.ops import OpKind

KIND_WORD = {OpKind.READ: "read", OpKind.CHANGE: "change", OpKind.DESTROY: "destroy"}


def report_lines(report: Report) -> str:
    return "\n".join(f"{ICON[f.severity]} *{escape(f.check)}*: {escape(f.detail)}" for f in report.ranked())


def remediation_button(offer: Offer) -> ButtonElement:
    r = offer.remediation
    style = "danger" if r.kind is OpKind.DESTROY else ("primary" if r.kind is OpKind.CHANGE else None)
    return ButtonElement(
        text=clip(f"{r.label} ({KIND_WORD[r.kind]})", MAX_BUTTON_TEXT),
        action_id=remediation_action_id(r.procedure, r.action),
        value=offer.id,
        style=style,
    )


# Slack takes 25 buttons an actions block; four such rows keep a report well inside 50 blocks.
MAX_OFFER_ROWS = 4


def offer_blocks(offers: list[Offer]) -> list[Block]:
    """The offers as rows of buttons, 25 a row; past the rows, a line saying how many more there
    are and where every one of them is (the terminal lists them all), never a silent cut."""
    shown = offers[: MAX_ACTIONS_ELEMENTS * MAX_OFFER_ROWS]
    rows: list[Block] = [
        ActionsBlock(elements=[remediation_button(o) for o in shown[i : i + MAX_ACTIONS_ELEMENTS]])
        for i in range(0, len(shown), MAX_ACTIONS_ELEMENTS)
    ]
    if len(offers) > len(shown):
        more = len(offers) - len(shown)
        rows.append(context(f":warning: {more} more actions than Slack shows in one message: `profbot shell` lists all "
                            f"{len(offers)} when the same diagnosis runs there"))  # fmt: skip
    return rows


def report_message(report: Report, offers: list[Offer], asked_by: str | None) -> Message:
    headline = f"{ICON[report.verdict]} {escape(report.summary())}"
    blocks: list[Block] = [
        header(f"{report.procedure}: {report.title}"),
        section(f"*{headline}*\n{report_lines(report)}"),
    ]
    if report.notes:
        blocks.append(context(*(f":memo: {escape(note)}" for note in report.notes)))
    blocks.extend(offer_blocks(offers))
    who = f"requested by {mention(asked_by)} · " if asked_by else ""
    evidence = " · evidence in the thread" if report.evidence else ""
    blocks.append(context(f"{who}host {report.host} · {utc(report.finished_at)}{evidence}"))
    text_lines = [headline] + [f"{f.severity.value}: {escape(f.check)}: {escape(f.detail)}" for f in report.ranked()]
    return Message(text="\n".join(text_lines), blocks=blocks)


@render.register
def _diagnosis(content: DiagnosisPosted) -> Message:
    return report_message(content.report, content.offers, content.asked_by)


@render.register
def _report(content: Report) -> Message:
    return report_message(content, [], None)


CODE_CHUNK = MAX_SECTION_TEXT - 10  # room for the ``` fences
INLINE_LINES = 20  # evidence up to this many lines (and one section's characters) is shown whole
EXCERPT_LINES = 10  # longer evidence: this many lines inline, the whole as a file in the thread
EXCERPT_LINE_CHARS = 250  # an excerpt's line is cut here (the file has it whole)


def _code(lines: list[str], width: int = CODE_CHUNK) -> str:
    shown = (escape(line.replace("```", "ʼʼʼ")) for line in lines)
    return "\n".join(line if len(line) <= width else line[: width - 1] + "…" for line in shown)


def fits_inline(item: Evidence) -> bool:
    """Whether the evidence is shown whole in one message; else an excerpt, and the whole as a file."""
    return len(item.lines) <= INLINE_LINES and len(_code(item.lines)) <= CODE_CHUNK


def evidence_message(item: Evidence, *, upload_error: str | None = None) -> Message:
    """Short evidence whole, as a code block; long evidence as an excerpt that points to its file
    (bot/slack/people.py uploads it into the same thread), or says why the file is missing."""
    title, total = escape(item.title), len(item.lines)
    blocks: list[Block] = [section(f"*{title}*")]
    if not item.lines:
        blocks.append(section("_(empty)_"))
    elif fits_inline(item):
        blocks.append(section(f"```{_code(item.lines)}```"))
    else:
        shown = excerpt(item, EXCERPT_LINES)
        blocks.append(section(f"```{clip(_code(shown, EXCERPT_LINE_CHARS), CODE_CHUNK)}```"))
        which = "last" if item.tail else "first"
        whole = (f"the whole could not be uploaded ({escape(upload_error)})" if upload_error
                 else f"all {total:,} lines in the file below")  # fmt: skip
        blocks.append(context(f"{which} {len(shown)} of {total:,} lines · {whole}"))
    left = left_on_host(item)
    if left:
        blocks.append(context(f"_{left}: more than a runner ships_"))
    return Message(text=f"{title}: {total:,} lines", blocks=blocks)


def evidence_upload(item: Evidence) -> tuple[str, str, str] | None:
    """The file long evidence is uploaded as (name, title, text); None when it is shown whole."""
    if fits_inline(item):
        return None
    return file_name(item), item.title, file_text(item)


@render.register
def _evidence(item: Evidence) -> Message:
    return evidence_message(item)


@render.register
def _health(content: HealthOverview) -> Message:
    reports = content.reports
    failing = [f for r in reports for f in r.findings if f.severity.rank >= Severity.WARNING.rank]
    hosts = len(reports)
    if failing:
        headline = f"Pyroscope health: {len(failing)} failing check{'s' if len(failing) > 1 else ''}"
    else:
        headline = "Pyroscope health: all checks pass"
    blocks: list[Block] = [header(headline)]
    for report in reports:
        blocks.append(section(f"{ICON[report.verdict]} *host {report.host}*\n{report_lines(report)}"))
    profiles = content.profiles
    if profiles is not None:  # the freshness check against the expected services, its failures only
        failing_profiles = [f for f in profiles.ranked() if f.severity.rank >= Severity.WARNING.rank]
        listed = "".join(f"\n{ICON[f.severity]} *{escape(f.check)}*: {escape(f.detail)}" for f in failing_profiles)
        summary = f"{ICON[profiles.verdict]} *Profiles*: {escape(profiles.summary())}{listed}"
        blocks.append(section(summary + ("\n_`/prof freshness` offers their diagnosis_" if failing_profiles else "")))
    who = f"requested by {mention(content.asked_by)} · " if content.asked_by else ""
    blocks.append(context(f"{who}{hosts} host{'s' if hosts != 1 else ''} · {utc(datetime.now(UTC))}"))
    text_lines = [headline] + [
        f"{r.host}: {escape(f.check)} {f.severity.value}: {escape(f.detail)}" for r in reports for f in r.ranked()
    ]
    if profiles is not None:
        text_lines.append(f"Profiles: {escape(profiles.summary())}")
    return Message(text="\n".join(text_lines), blocks=blocks)


@render.register
def _runners(content: RunnersOverview) -> Message:
    lines = []
    for r in content.runners:
        state = ":large_green_circle: up" if r.host in content.alive else ":red_circle: not heartbeating"
        podman = (
            f"podman {r.podman_version}" if r.podman_version else f"podman unreachable ({escape(str(r.podman_error))})"
        )
        lines.append(
            f"{state} *{r.host}*: last seen {utc(r.last_seen_at)}, runner {r.version}, {podman}, "
            f"{len(r.containers)} containers, Pyroscope at {escape(r.pyroscope_url)}"
        )
    # One line per host, as many sections as Slack's section text limit needs: in one section,
    # fifty hosts' lines were clipped after the first twenty or so.
    blocks: list[Block] = []
    chunk = ["*Runners*"]
    for line in (clip(line, MAX_SECTION_TEXT - 20) for line in lines):
        if sum(len(x) + 1 for x in chunk) + len(line) > MAX_SECTION_TEXT - 10:
            blocks.append(section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    blocks.append(section("\n".join(chunk)))
    return Message(text=f"{len(content.alive)} of {len(content.runners)} runners up", blocks=blocks)


@render.register
def _quick_links(content: QuickLinks) -> Message:
    """The Quick Reference: link buttons, each in its own actions block (an action id is unique
    within its block, and the app acknowledges every link click by that one id), with the
    addresses in the text too for clients that show no buttons."""
    whose = f" for {escape(content.service)}" if content.service else ""
    buttons: list[ButtonElement] = []
    lines = []
    for label, url, setting in (
        ("Open in Pyroscope", content.pyroscope, "PYROSCOPE_UI_URL"),
        ("Open in Grafana Explore", content.grafana_explore, "GRAFANA_URL"),
    ):
        if url is not None:
            buttons.append(ButtonElement(text=label, url=url, action_id=OPEN_LINK))
            lines.append(link(url, label) or f"{label}: {escape(url)}")  # a `|` or `>` in it ends no link
        else:
            lines.append(f"{label}: the runner on {escape(content.host)} gives no address (its {setting})")
    blocks: list[Block] = [section(f"*Profiles{whose}*\n" + "\n".join(lines))]
    blocks += [ActionsBlock(elements=[button]) for button in buttons]
    blocks.append(context(f"addresses from the runner on {escape(content.host)} · the last hour"))
    text = f"Profiles{whose}: " + " · ".join(u for u in (content.pyroscope, content.grafana_explore) if u)
    return Message(text=text if buttons else f"Profiles{whose}: no address known", blocks=blocks)


@render.register
def _runbook_index(content: RunbookIndex) -> Message:
    lines = [f"*{line.procedure}*: {line.title} (`{line.usage}`)" for line in content.lines]
    return Message(text="Runbook procedures", blocks=[section("*Runbook procedures*\n" + "\n".join(lines))])


@render.register
def _runbook_entry(content: RunbookEntry) -> Message:
    text = f"*{content.procedure}: {content.title}*\n{content.doc}\nRun it: `{content.usage}`"
    return Message(text=f"{content.procedure}: {content.title}", blocks=[section(text)])
