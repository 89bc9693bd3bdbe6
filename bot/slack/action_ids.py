"""What Slack sends back when someone clicks or submits: action ids, block ids, button values and
a modal's private metadata. Values are opaque references (an offer id, a request id), never a
re-encoded remediation; anything else that comes back is refused as stale."""

from __future__ import annotations

import json
import re

from bot.usecases.commands import Place
from profbot.approvals.rules import Decision

REMEDIATE_PREFIX = "remediate:"  # remediate:PROCEDURE:ACTION, value: the offer's id
DECISIONS: dict[str, Decision] = {f"change:{d.value}": d for d in Decision}  # value: the request's id
CONFIRM, CANCEL, APPROVE, REJECT = (f"change:{d.value}" for d in (Decision.CONFIRM, Decision.CANCEL,
                                                                  Decision.APPROVE, Decision.REJECT))  # fmt: skip
DESTROY_MODAL = "change:typed-confirmation"  # a view's callback id
OPEN_LINK = "link:open"  # a URL button (Open in Pyroscope): Slack opens it and still tells the app
# An alert thread's buttons: alert:silence:HOURS, alert:extend, alert:expire, alert:ack, alert:release;
# value: the alert group's id.
ALERT_PREFIX = "alert:"
ALERT_SILENCE = "alert:silence:"
ALERT_EXTEND, ALERT_EXPIRE, ALERT_ACK, ALERT_RELEASE = "alert:extend", "alert:expire", "alert:ack", "alert:release"
TYPED_BLOCK = "typed_name"
TYPED_INPUT = "value"

_ID = re.compile(r"^[0-9a-f]{32}$")
_GROUP = re.compile(r"^[0-9a-f]{20}$")
_CHANNEL = re.compile(r"^[A-Z0-9]{1,40}$")
_TS = re.compile(r"^\d{1,12}\.\d{1,9}$")


def remediation_action_id(procedure: str, action: str) -> str:
    return f"{REMEDIATE_PREFIX}{procedure}:{action}"[:255]


def reference(value: object) -> str | None:
    """An offer's or a request's id from a button's value; None for anything else."""
    return value if isinstance(value, str) and _ID.match(value) else None


def alert_group(value: object) -> str | None:
    """An alert group's id from a thread button's value; None for anything else."""
    return value if isinstance(value, str) and _GROUP.match(value) else None


def form_metadata(offer_id: str, place: Place) -> str:
    """A destroy modal's private metadata: the offer and where its request goes."""
    return json.dumps({"offer": offer_id, "channel": place.channel, "thread": place.thread}, separators=(",", ":"))


def parse_form_metadata(text: str) -> tuple[str, Place] | None:
    try:
        data = json.loads(text)
        offer, channel, thread = data["offer"], data["channel"], data.get("thread")
    except (ValueError, KeyError, TypeError):
        return None
    if reference(offer) is None or not isinstance(channel, str) or not _CHANNEL.match(channel):
        return None
    if thread is not None and not (isinstance(thread, str) and _TS.match(thread)):
        return None
    return offer, Place(channel=channel, thread=thread)
