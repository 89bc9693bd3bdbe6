"""A stand-in for the SDK-profiled `backend` service: logs its Pyroscope SDK start and idles.

Its log carries the kind of secrets real services print by mistake (a DSN with a password, a
bearer token), so tests can check they never leave the runner.

Profiles, as the SDK sends them: when a test writes folded stacks ("a;b;c 12" per line) to
/tmp/stacks.folded, the service pushes them to its PYROSCOPE_URL (`/ingest?format=folded`) over
the compose network, then removes the file. Nothing is pushed otherwise, so "no data" stays true
for the tests that need it. /tmp/push-clock, when present, holds the epoch seconds the SDK stamps
its next push with (a host whose clock was never set sends 1970).

A push Pyroscope refuses is logged as pyroscope-rs logs it, "Sending Session failed STATUS BODY"
(src/session.rs, target Pyroscope::Session), and the service carries on, as real SDKs do.
"""

import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

STACKS_FILE = "/tmp/stacks.folded"
CLOCK_FILE = "/tmp/push-clock"


def push_stacks_when_written():
    service = os.environ.get("SERVICE_NAME", "backend")
    url = os.environ.get("PYROSCOPE_URL", "http://pyroscope:4040").rstrip("/")
    while True:
        time.sleep(0.3)
        if not os.path.exists(STACKS_FILE):
            continue
        with open(STACKS_FILE, "rb") as f:
            body = f.read()
        now = int(time.time())
        if os.path.exists(CLOCK_FILE):
            with open(CLOCK_FILE) as f:
                now = int(f.read().strip() or now)
        query = urllib.parse.urlencode(
            {"name": service, "from": now - 10, "until": now, "format": "folded", "spyName": "pyspy", "sampleRate": 100}
        )
        try:
            urllib.request.urlopen(urllib.request.Request(f"{url}/ingest?{query}", data=body, method="POST"), timeout=5)
            print(f"INFO pushed a profile of {len(body.splitlines())} stacks to Pyroscope", flush=True)
        except urllib.error.HTTPError as exc:
            answer = exc.read().decode("utf-8", "replace")
            print(f"[ERROR] Pyroscope::Session Sending Session failed {exc.code} {answer}", flush=True)
        except OSError as exc:
            print(f"ERROR pushing a profile to Pyroscope failed: {exc}", flush=True)
        os.remove(STACKS_FILE)


def stop(*_):
    print("backend: SIGTERM received, shutting down gracefully", flush=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)
print(f"INFO connecting to {os.environ.get('DATABASE_URL', 'sqlite://')}", flush=True)
print("DEBUG outbound call with Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.backend-secret", flush=True)
if os.environ.get("PYROSCOPE_ENABLED", "true") == "true":
    print(f"INFO Pyroscope profiling initialized for {os.environ.get('SERVICE_NAME', 'backend')}", flush=True)
    threading.Thread(target=push_stacks_when_written, daemon=True).start()
else:
    print("INFO Pyroscope profiling disabled (PYROSCOPE_ENABLED=false)", flush=True)
while True:
    time.sleep(3600)
