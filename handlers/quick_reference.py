"""The runbook's Quick Reference: where people look at profiles, the Pyroscope UI and Grafana's
Explore on the Pyroscope datasource, for one service or for all of them.

The addresses come from the runner on Pyroscope's host (PYROSCOPE_UI_URL, GRAFANA_URL); a link
never carries credentials, whatever the setting held.
"""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from profbot.ops.pyroscope import CPU_PROFILE_TYPE

WINDOW = "now-1h"  # what the links open on; both UIs let people widen it
DATASOURCE = "Pyroscope"  # the runbook's provisioning file names it so (MAINT-PROF-003)


def bare(url: str) -> str:
    """``url`` with no user, password, query or fragment: what a link people see may start from."""
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def selector(service: str) -> str:
    return f'{{service_name="{service}"}}'


def pyroscope_link(ui_url: str, service: str | None) -> str:
    """The Pyroscope UI; on the service's CPU profile over the last hour when one is named."""
    base = bare(ui_url)
    if service is None:
        return f"{base}/"
    return f"{base}/?" + urlencode({"query": CPU_PROFILE_TYPE + selector(service), "from": WINDOW, "until": "now"})


def grafana_explore_link(grafana_url: str, service: str | None) -> str:
    """Grafana's Explore on the Pyroscope datasource; the service's CPU profile when one is named."""
    query: dict[str, object] = {"refId": "A", "queryType": "profile", "profileTypeId": CPU_PROFILE_TYPE}
    if service is not None:
        query["labelSelector"] = selector(service)
    left = {"datasource": DATASOURCE, "queries": [query], "range": {"from": WINDOW, "to": "now"}}
    return f"{bare(grafana_url)}/explore?orgId=1&left=" + quote(json.dumps(left, separators=(",", ":")), safe="")
