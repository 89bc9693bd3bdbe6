"""The host-side runner: the only part of profbot that touches podman and the host.

It reads jobs for its host from the Redis bus (``worker.py``), executes operations declared in
``profbot/ops.py`` (``operations.py``) through podman-py (``podman_gateway.py``) and httpx
(``pyroscope.py``), and writes results back.
"""
