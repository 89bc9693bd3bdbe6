"""A stand-in for the SDK-profiled `backend` service: logs its Pyroscope SDK start and idles."""

import os
import signal
import sys
import time

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
if os.environ.get("PYROSCOPE_ENABLED", "true") == "true":
    print(f"INFO Pyroscope profiling initialized for {os.environ.get('SERVICE_NAME', 'backend')}", flush=True)
else:
    print("INFO Pyroscope profiling disabled", flush=True)
while True:
    time.sleep(3600)
