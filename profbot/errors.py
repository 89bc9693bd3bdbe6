"""Every exception profbot raises on purpose, in one tree.

::

    ProfbotError
    ├── ConfigError                 a setting is missing or invalid (the CLI exits 2 on it)
    ├── DeliveryError               a front end could not deliver a message to people
    │   ├── PlaceUnavailable        the bot may not post there (not in the channel, archived, gone)
    │   ├── ContentRefused          the front end refused the message itself (invalid blocks, too long)
    │   ├── MessageGone             the message to update no longer exists
    │   └── FrontEndUnavailable     the front end did not answer, or still rate-limits: try later
    ├── BusError                    the job bus between bot and runners failed
    │   ├── RedisUnavailable        Redis did not answer
    │   ├── NoRunner                no runner is registered, or the host's runner stopped heartbeating
    │   └── JobTimeout              a runner took the job but no result came back in time
    ├── SilencerError               Alertmanager (or Grafana's) did not do what a silence asked
    │   ├── SilencerUnavailable     it did not answer, or answered 5xx: nothing changed, try later
    │   └── SilenceRefused          it refused the request (4xx: credentials, matchers, unknown id)
    └── OperationError              an operation failed on the runner (carried back as ``code``)
        ├── InvalidArgument         an argument broke the operation's rules (nothing ran)
        ├── NotAllowed              the target is outside what this runner manages (nothing ran)
        │   └── NotApproved         a change came without a matching, running approval (nothing ran)
        │       └── TargetChanged   the approved target was replaced since the approval (nothing ran)
        ├── TargetNotFound          the container, volume or file does not exist
        ├── PodmanUnavailable       the runner cannot reach the podman socket
        ├── OperationTimeout        the operation hit its deadline and was cut off
        ├── OutcomeUnknown          the runner stopped while running it; it was not re-run
        └── Unconfirmed             no Redis replica confirmed a change step's claim in time (nothing ran)

An ``OperationError`` raised on a runner travels to the bot as ``JobResult.error_code`` and
``JobResult.error``; :func:`operation_error_from_code` turns it back into the same class.
"""

from __future__ import annotations

from datetime import datetime


class ProfbotError(Exception):
    """Base class of every profbot error."""


class ConfigError(ProfbotError):
    """A setting is missing or invalid."""


class DeliveryError(ProfbotError):
    """A front end could not deliver a message. ``reason`` is the front end's own word for it
    (Slack's error code), for logs and for telling people what to fix."""

    def __init__(self, reason: str, message: str | None = None) -> None:
        self.reason = reason
        super().__init__(message or reason)


class PlaceUnavailable(DeliveryError):
    """The bot may not post in that place: answer the asker privately instead."""


class ContentRefused(DeliveryError):
    """The message itself was refused: no retry will change that."""


class MessageGone(DeliveryError):
    """The message to update or reply to no longer exists."""


class FrontEndUnavailable(DeliveryError):
    """The front end is down or still rate-limits after its retries: try again later."""


class BusError(ProfbotError):
    """The job bus between bot and runners failed."""


class RedisUnavailable(BusError):
    """Redis did not answer."""


class NoRunner(BusError):
    """No runner can take a job for a host."""

    def __init__(self, host: str | None, last_seen: datetime | None = None) -> None:
        self.host = host
        self.last_seen = last_seen
        if host is None:
            msg = "no runner registered"
        elif last_seen is None:
            msg = f"no runner registered for host {host}"
        else:
            msg = f"no runner for host {host} seen since {last_seen:%Y-%m-%d %H:%M:%S} UTC"
        super().__init__(msg)


class JobTimeout(BusError):
    """A job was submitted but its result did not arrive before the deadline."""


class SilencerError(ProfbotError):
    """Alertmanager's silences API did not do what was asked. ``reason`` says why, in words a
    person can act on (the status and Alertmanager's own message)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class SilencerUnavailable(SilencerError):
    """Alertmanager did not answer, or failed (5xx): nothing is known to have changed."""


class SilenceRefused(SilencerError):
    """Alertmanager refused the request (4xx): no retry of the same request changes that."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


class OperationError(ProfbotError):
    """An operation failed on the runner. ``code`` names the failure across the bus."""

    code = "operation_failed"


class InvalidArgument(OperationError):
    code = "invalid_argument"


class NotAllowed(OperationError):
    code = "not_allowed"


class NotApproved(NotAllowed):
    code = "not_approved"


class TargetChanged(NotApproved):
    code = "target_changed"


class TargetNotFound(OperationError):
    code = "not_found"


class PodmanUnavailable(OperationError):
    code = "podman_unreachable"


class OperationTimeout(OperationError):
    code = "timeout"


class OutcomeUnknown(OperationError):
    code = "outcome_unknown"


class Unconfirmed(OperationError):
    """A change step's claim was not held by a Redis replica in time: a failover could forget it
    and run the step again, so it was not run."""

    code = "unconfirmed"


_BY_CODE: dict[str, type[OperationError]] = {
    cls.code: cls
    for cls in (
        OperationError,
        InvalidArgument,
        NotAllowed,
        NotApproved,
        TargetChanged,
        TargetNotFound,
        PodmanUnavailable,
        OperationTimeout,
        OutcomeUnknown,
        Unconfirmed,
    )
}


def operation_error_from_code(code: str, message: str) -> OperationError:
    """Rebuild the error a runner reported, falling back to the base class for unknown codes."""
    return _BY_CODE.get(code, OperationError)(message)
