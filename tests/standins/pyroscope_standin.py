"""A stand-in for the Pyroscope server, run inside the `pyroscope` test container.

It answers like Pyroscope v1 (or v0 with PYROSCOPE_STANDIN_API=v0) where profbot looks:
- GET /ready: 200 `ready` (no newline); 503 with a reason while "not ready". Create the file
  /tmp/unhealthy (its content is the reason) to make it unhealthy; remove it to recover.
- POST /ingest?name=SERVICE{labels}&from=..&until=..&format=..: stores that SERVICE sent samples.
  A speedscope upload of several threads lands as wall:wall:..., anything else as process_cpu:...
  A `format=folded` body ("a;b;c 12" per line) keeps its stacks: render merges them into a real
  flamebearer (tests/standins/flamebearer.py, Pyroscope's encoding).
- v1: POST /querier.v1.QuerierService/LabelValues and /ProfileTypes (Connect JSON, times in ms);
  GET /pyroscope/render?query=TYPE{service_name="S"}&max-nodes=N: the merged flamebearer of the
  window (numTicks, names, levels, in nanoseconds as v1 counts CPU and wall time; beyond N frames
  the smallest merged into "other") and v1's metadata (format, units, sampleRate, name); a
  v0-style query=S gets 400. Frame names are kept as pushed: tests push real profilers' forms.
- v0: the Connect endpoints 404; render?query=S answers numTicks for S.
- Limits, as v1's distributor applies them (pkg/validation, pkg/distributor), once the file
  /tmp/limits.json names them (`{"ingestion_rate_mb": 0.001, "max_profile_size_bytes": 200,
  "reject_older_than": "1h"}`): a push past the rate gets 429 "push rate limit (...) exceeded while
  adding ..."; a body past max_profile_size_bytes 400 "the profile with labels '...' exceeds the size
  limit (max_profile_size_byte, ...)"; more folded stacks than max_profile_stacktrace_samples 400
  (samples count limit); a `from` outside reject_older_than/reject_newer_than 400 "... is outside of
  ingestion window ...". Each is counted in /metrics as pyroscope_discarded_samples_total and
  pyroscope_discarded_bytes_total{reason,tenant="anonymous"}; GET /api/v1/status/config answers the
  running config's YAML with its `limits:` (v1's defaults, and reject_older_than 0s without the
  file: the stand-in then takes pushes from any time, as `reject_older_than: 0` does, for tests
  that lay down history).
- A lagging ingester: the file /tmp/ingest-delay holds seconds; a push is answered at once and its
  samples show that much later (what push latency measures). Remove it to recover.
It runs the host's Python through read-only bind mounts (no image registry on these machines).
"""

import http.server
import json
import os
import re
import signal
import sys
import threading
import time
from collections import Counter
from urllib.parse import parse_qs, urlparse

import flamebearer  # type: ignore[import-not-found]  # beside this file: /standins is the script's directory

UNHEALTHY_FLAG = "/tmp/unhealthy"
INGEST_DELAY_FILE = "/tmp/ingest-delay"
API = os.environ.get("PYROSCOPE_STANDIN_API", "v1")
CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
WALL = "wall:wall:nanoseconds:wall:nanoseconds"
LOCK = threading.Lock()
SAMPLES: list = []  # (time_s, service, profile_type, ticks, folded stacks or None)
LIMITS_FILE = "/tmp/limits.json"
# v1's defaults (pkg/validation/limits.go); the ingestion window is off until the file sets it.
DEFAULT_LIMITS = {
    "ingestion_rate_mb": 4,
    "ingestion_burst_size_mb": 2,
    "max_profile_size_bytes": 4194304,
    "max_profile_stacktrace_samples": 16000,
    "reject_older_than": "0s",
    "reject_newer_than": "10m",
}
DISCARDED: Counter = Counter()  # (metric, reason) -> value
BUCKET = {"tokens": -1.0, "at": 0.0}  # the rate limiter's bytes (-1: full), refilled at ingestion_rate_mb


def limits():
    found = dict(DEFAULT_LIMITS)
    try:
        with open(LIMITS_FILE) as f:
            found.update(json.load(f))
    except (OSError, ValueError):
        pass
    return found


def seconds(duration):
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d)", str(duration))
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)] if m else 0


def mib(n):
    return f"{n / 1048576:.1f} MiB"


def refused(service, body, stacks, at):
    """(status, message, reason) for a push v1 would refuse, or None."""
    lim, size, labels = limits(), len(body), f'{{service_name="{service}"}}'
    burst = float(lim["ingestion_burst_size_mb"]) * 1048576
    rate = float(lim["ingestion_rate_mb"]) * 1048576
    now = time.time()
    with LOCK:
        tokens = burst if BUCKET["tokens"] < 0 else min(burst, BUCKET["tokens"] + (now - BUCKET["at"]) * rate)
        BUCKET["at"] = now
        if size > tokens:
            BUCKET["tokens"] = tokens
            return 429, f"push rate limit ({mib(rate)}) exceeded while adding {mib(size)}", "rate_limited"
        BUCKET["tokens"] = tokens - size
    if 0 < int(lim["max_profile_size_bytes"]) < size:
        limit = int(lim["max_profile_size_bytes"])
        return 400, (f"the profile with labels '{labels}' exceeds the size limit (max_profile_size_byte, "
                     f"actual: {size}, limit: {limit})"), "profile_size_limit"  # fmt: skip
    samples, limit = len(stacks or ()), int(lim["max_profile_stacktrace_samples"])
    if 0 < limit < samples:
        message = (f"the profile with labels '{labels}' exceeds the samples count limit "
                   f"(max_profile_stacktrace_samples, actual: {samples}, limit: {limit})")  # fmt: skip
        return 400, message, "samples_limit"
    older, newer = seconds(lim["reject_older_than"]), seconds(lim["reject_newer_than"])
    if (older and at < now - older) or (newer and at > now + newer):
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(at))
        start = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now - older))
        return 400, (f"profile with labels '{labels}' is outside of ingestion window (profile timestamp: {stamp}, "
                     f"the ingestion window starts at {start})"), "not_in_ingestion_window"  # fmt: skip
    return None


def discarded_metrics():
    lines = []
    for metric in ("pyroscope_discarded_samples_total", "pyroscope_discarded_bytes_total"):
        rows = [(reason, n) for (m, reason), n in sorted(DISCARDED.items()) if m == metric]
        if rows:
            lines += [f"# HELP {metric} The total number of discarded.", f"# TYPE {metric} counter"]
            lines += [f'{metric}{{reason="{reason}",tenant="anonymous"}} {n}' for reason, n in rows]
    return "".join(f"{line}\n" for line in lines)


def parse_window(params):
    now = time.time()

    def one(value, default):
        if value is None:
            return default
        m = re.fullmatch(r"now(?:-(\d+)([smhd]))?", value)
        if m:
            if not m.group(1):
                return now
            return now - int(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
        return float(value)

    return one(params.get("from"), now - 3600), one(params.get("until"), now)


def ingest_delay():
    try:
        with open(INGEST_DELAY_FILE) as f:
            return float(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0.0


def record(sample):
    with LOCK:
        SAMPLES.append(sample)


def merged(service, profile_type, start, end):
    """The window's samples of SERVICE: (ticks, folded stacks merged)."""
    total, stacks = 0, Counter[str]()
    with LOCK:
        for ts, s, p, t, folded in SAMPLES:
            if s == service and (profile_type is None or p == profile_type) and start <= ts <= end:
                total += t
                stacks.update(folded or {})
    return total, stacks


class Handler(http.server.BaseHTTPRequestHandler):
    def _send(self, status, body, content_type="text/plain; charset=utf-8"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _json(self, status, obj):
        self._send(status, json.dumps(obj), "application/json")

    def do_GET(self):
        url = urlparse(self.path)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/ready":
            if os.path.exists(UNHEALTHY_FLAG):
                with open(UNHEALTHY_FLAG) as f:
                    self._send(503, f.read().strip() or "not ready")
            else:
                self._send(200, "ready")
        elif url.path == "/metrics":
            # Prometheus text format, as Pyroscope's own /metrics (what a scrape-based alert watches).
            build = '# TYPE pyroscope_build_info gauge\npyroscope_build_info{version="standin"} 1\n'
            self._send(200, build + discarded_metrics())
        elif url.path == "/api/v1/status/config" and API == "v1":
            body = "limits:\n" + "".join(f"  {k}: {v}\n" for k, v in limits().items())
            self._send(200, "server:\n  http_listen_port: 4040\n" + body, "text/plain; charset=utf-8")
        elif url.path == "/pyroscope/render":
            start, end = parse_window(params)
            query = params.get("query", "")
            if API == "v1":
                m = re.fullmatch(r'([a-z_]+:[a-z_]+:[a-z_]+:[a-z_]+:[a-z_]+)\{service_name="([^"]+)"\}', query)
                if not m:
                    self._send(400, "invalid query: profile type id expected")
                    return
                total, stacks = merged(m.group(2), m.group(1), start, end)
            else:
                total, stacks = merged(query.split(".")[0].split("{")[0], None, start, end)
            # max-nodes as v1 applies it: the smallest frames merged into "other" per caller.
            asked = params.get("max-nodes", "0")
            max_nodes = int(asked) if asked.isdigit() else 0
            bearer = (
                flamebearer.encode(dict(stacks), max_nodes) if stacks else {"names": [], "levels": [], "maxSelf": 0}
            )
            bearer["numTicks"] = total
            # As v1's ExportToFlamebearer: CPU in "samples" at a rate of 1e9 (ticks are nanoseconds);
            # wall-clock in "nanoseconds" at 100.
            wall = "wall:" in query
            metadata = {"format": "single", "units": "nanoseconds" if wall else "samples",
                        "sampleRate": 100 if wall else 1_000_000_000, "name": "wall" if wall else "cpu"}  # fmt: skip
            self._json(200, {"flamebearer": bearer, "metadata": metadata, "timeline": {}})
        else:
            self._send(404, "404 page not found\n")

    def do_POST(self):
        url = urlparse(self.path)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if url.path == "/ingest":
            service = params.get("name", "").split("{")[0].split(".")[0]
            kind = WALL if params.get("format") == "speedscope" and body.count(b'"type"') > 1 else CPU
            folded = None
            if params.get("format") == "folded":
                folded = flamebearer.parse_folded(body.decode("utf-8", "replace"))
            # v1 keeps CPU and wall time in nanoseconds: a sample at sampleRate Hz is 1e9/rate of them.
            per_sample = 1_000_000_000 // max(int(params.get("sampleRate", "100")), 1)
            folded = {stack: n * per_sample for stack, n in folded.items()} if folded else None
            count = sum(folded.values()) if folded else 100 * per_sample
            at = float(params["from"]) if re.fullmatch(r"-?\d+", params.get("from", "")) else time.time()
            refusal = refused(service, body, folded, at)
            if refusal is not None:
                status, message, reason = refusal
                with LOCK:
                    DISCARDED["pyroscope_discarded_samples_total", reason] += 1
                    DISCARDED["pyroscope_discarded_bytes_total", reason] += len(body)
                sys.stderr.write(f'level=warn msg="push refused" reason={reason} err={message!r}\n')
                self._send(status, message)
                return
            sample, delay = (time.time(), service, kind, count, folded), ingest_delay()
            if delay > 0:  # stamped now, queryable only after the delay
                threading.Timer(delay, record, args=(sample,)).start()
            else:
                record(sample)
            self._send(200, "")
        elif url.path.startswith("/querier.v1.QuerierService/") and API == "v1":
            request = json.loads(body or b"{}")
            start, end = request.get("start", 0) / 1000, request.get("end", time.time() * 1000) / 1000
            with LOCK:
                window = [s for s in SAMPLES if start <= s[0] <= end]
            if url.path.endswith("/LabelValues"):
                self._json(200, {"names": sorted({s[1] for s in window})})
            elif url.path.endswith("/ProfileTypes"):
                self._json(200, {"profileTypes": [{"ID": p} for p in sorted({s[2] for s in window})]})
            else:
                self._send(404, "")
        else:
            self._send(404, "404 page not found\n")

    def log_message(self, fmt, *args):
        sys.stderr.write(f"level=info msg={fmt % args!r}\n")


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.stderr.write(f'level=info msg="starting pyroscope stand-in" api={API}\n')
    sys.stderr.flush()
    http.server.ThreadingHTTPServer(("0.0.0.0", 4040), Handler).serve_forever()


if __name__ == "__main__":
    main()
