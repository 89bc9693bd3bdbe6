"""A stand-in for Grafana's HTTP API, run inside the `grafana` test container.

GET /api/datasources (Bearer token from GRAFANA_STANDIN_TOKEN, else 401) lists the datasources
provisioned from /etc/grafana/provisioning/datasources/*.yml when the process started, as
Grafana does: a provisioning file written later appears after a restart.
"""

import glob
import json
import os
import re
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = os.environ.get("GRAFANA_STANDIN_TOKEN", "")
DATASOURCES: list = []
for path in sorted(glob.glob("/etc/grafana/provisioning/datasources/*.y*ml")):
    with open(path) as f:
        text = f.read()
    for block in re.split(r"\n\s*-\s+(?=name:)", "\n" + text)[1:]:
        fields = dict(re.findall(r"^\s*(name|type|url|access):\s*(\S+)", block, re.M))
        DATASOURCES.append(
            {
                "id": len(DATASOURCES) + 1,
                "name": fields.get("name"),
                "type": fields.get("type"),
                "url": fields.get("url"),
                "access": fields.get("access"),
            }
        )


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body: object
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            body, status = {"message": "Unauthorized"}, 401
        elif self.path == "/api/datasources":
            body, status = DATASOURCES, 200
        elif self.path == "/api/health":
            body, status = {"database": "ok", "version": "11.3.0"}, 200
        else:
            body, status = {"message": "Not found"}, 404
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        sys.stderr.write(f"logger=context msg={fmt % args!r}\n")


signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
ThreadingHTTPServer(("0.0.0.0", 3000), Handler).serve_forever()
