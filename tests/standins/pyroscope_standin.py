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
            self._send(200, '# TYPE pyroscope_build_info gauge\npyroscope_build_info{version="standin"} 1\n')
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
