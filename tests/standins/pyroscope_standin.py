"""A stand-in for the Pyroscope v1 server, run inside the `pyroscope` test container.

It answers like Pyroscope v1 where profbot looks:
- GET /ready: 200 `ready` (no newline); 503 with a reason while "not ready". Create the file
  /tmp/unhealthy (its content is the reason) to make it unhealthy; remove it to recover.
It runs the host's Python through read-only bind mounts (no image registry on these machines).
"""

import http.server
import os
import signal
import sys

UNHEALTHY_FLAG = "/tmp/unhealthy"


class Handler(http.server.BaseHTTPRequestHandler):
    def _send(self, status, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/ready":
            if os.path.exists(UNHEALTHY_FLAG):
                with open(UNHEALTHY_FLAG) as f:
                    reason = f.read().strip() or "not ready"
                self._send(503, reason)
            else:
                self._send(200, "ready")
        else:
            self._send(404, "404 page not found\n")

    def log_message(self, fmt, *args):
        sys.stderr.write("level=info msg=%r\n" % (fmt % args))


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.stderr.write('level=info msg="starting pyroscope stand-in" version=1.18.0\n')
    sys.stderr.flush()
    http.server.ThreadingHTTPServer(("0.0.0.0", 4040), Handler).serve_forever()


if __name__ == "__main__":
    main()
