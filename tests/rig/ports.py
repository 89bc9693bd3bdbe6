"""Free loopback ports for the rig's servers."""

import random
import socket

# Linux hands out ephemeral ports (a bind to port 0, an outgoing connection) from 32768 up
# (/proc/sys/net/ipv4/ip_local_port_range). The podman stack's published ports come from below
# it: a stack recreated between tests gives its ports up for a moment, and a port from
# free_port() taken meanwhile by another xdist worker's server would keep it from starting again.
PUBLISHED_RANGE = (20000, 32000)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def published_port() -> int:
    """A free port outside the ephemeral range, for a container to publish for a whole session."""
    for _ in range(200):
        port = random.randrange(*PUBLISHED_RANGE)  # noqa: S311 - a port, not a secret
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PUBLISHED_RANGE}")
