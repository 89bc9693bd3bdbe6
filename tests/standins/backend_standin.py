"""A stand-in for the SDK-profiled `backend` service: logs its Pyroscope SDK start and idles.

Its log carries the kind of secrets real services print by mistake (a DSN with a password, a
bearer token), so tests can check they never leave the runner.
"""

import os
import signal
import sys
import time


def stop(*_):
    print("backend: SIGTERM received, shutting down gracefully", flush=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)
print(f"INFO connecting to {os.environ.get('DATABASE_URL', 'sqlite://')}", flush=True)
print("DEBUG outbound call with Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.backend-secret", flush=True)
if os.environ.get("PYROSCOPE_ENABLED", "true") == "true":
    print(f"INFO Pyroscope profiling initialized for {os.environ.get('SERVICE_NAME', 'backend')}", flush=True)
else:
    print("INFO Pyroscope profiling disabled (PYROSCOPE_ENABLED=false)", flush=True)
while True:
    time.sleep(3600)
