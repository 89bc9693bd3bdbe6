"""Where profbot finds a Redis primary through Redis Sentinel: ``redis+sentinel://`` URLs.

::

    redis+sentinel://[[USER]:PASSWORD@]HOST:PORT[,HOST:PORT...]/MASTER[/DB]

lists the sentinels and the name they monitor the primary under (``sentinel monitor MASTER ...``).
The user and password, if any, are the primary's and its replicas'; the sentinels themselves are
asked without one. ``REDIS_SENTINELS`` plus ``REDIS_SENTINEL_MASTER`` say the same (no password),
and become such a URL (profbot/settings.py). Pure parsing, no Redis here: the client is made in
profbot/redis_access.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

SCHEME = "redis+sentinel://"
_MASTER = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
_HOST = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9][a-zA-Z0-9_.-]*)$")


@dataclass(frozen=True)
class SentinelTarget:
    sentinels: tuple[tuple[str, int], ...]
    master: str
    db: int = 0
    username: str | None = None
    password: str | None = None


def is_sentinel_url(url: str) -> bool:
    return url.startswith(SCHEME)


def parse_sentinels(value: str) -> tuple[tuple[str, int], ...]:
    """``HOST:PORT,HOST:PORT...`` (an IPv6 host in brackets); ValueError naming what is wrong."""
    found: list[tuple[str, int]] = []
    for item in (part.strip() for part in value.split(",")):
        host, sep, port = item.rpartition(":")
        if not sep or not _HOST.match(host) or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{item!r} is not HOST:PORT (sentinels are listed as HOST:PORT,HOST:PORT,...)")
        found.append((host.strip("[]"), int(port)))
    return tuple(found)


def parse_sentinel_url(url: str) -> SentinelTarget:
    """The sentinels, primary name, database and credentials of a ``redis+sentinel://`` URL."""
    if not is_sentinel_url(url):
        raise ValueError(f"must start with {SCHEME}")
    rest = url.removeprefix(SCHEME)
    if "?" in rest or "#" in rest:
        raise ValueError("takes no ?options: redis+sentinel://[:PASSWORD@]HOST:PORT,HOST:PORT/MASTER[/DB]")
    credentials, at, location = rest.rpartition("@")
    hosts, slash, path = location.partition("/")
    master, _, db = path.partition("/")
    if not slash or not _MASTER.match(master):
        raise ValueError("must name the primary as Sentinel knows it: redis+sentinel://HOST:PORT,.../MASTER")
    if db and not db.isdigit():
        raise ValueError(f"database {db!r} is not a number: redis+sentinel://HOST:PORT,.../MASTER/DB")
    username = password = None
    if at:
        user, colon, secret = credentials.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    return SentinelTarget(parse_sentinels(hosts), master, int(db or 0), username, password)


def sentinel_url(sentinels: str, master: str) -> str:
    """The URL of ``REDIS_SENTINELS`` and ``REDIS_SENTINEL_MASTER`` (checked on the way)."""
    hosts = ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in parse_sentinels(sentinels))
    url = f"{SCHEME}{hosts}/{master}"
    parse_sentinel_url(url)
    return url
