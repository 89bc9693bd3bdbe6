"""The small Python programs a runner runs inside a container with `python3 -c` (the runbook's
curl and pip show, for images that have Python but neither tool). Each takes its one argument from
argv, never from its own text: nothing a request says becomes code."""

from __future__ import annotations

# GET argv[1]; print the status, then up to 500 bytes of the body; exit 1 with the reason on
# stderr when no HTTP answer came.
HTTP_GET = (
    "import signal, sys, urllib.request, urllib.error\n"
    # urlopen's timeout does not cover name resolution: bound the whole probe.
    "signal.alarm(6)\n"
    "try:\n"
    "    r = urllib.request.urlopen(sys.argv[1], timeout=5); print(r.status); print(r.read(500).decode())\n"
    "except urllib.error.HTTPError as e:\n"
    "    print(e.code); print(e.read(500).decode())\n"
    "except Exception as e:\n"
    "    print(getattr(e, 'reason', None) or e, file=sys.stderr); sys.exit(1)\n"
)

# The installed version of the package argv[1] (what `pip show` reads); exit 3 if not installed.
PACKAGE_VERSION = (
    "import sys, importlib.metadata as m\n"
    "try: print(m.version(sys.argv[1]))\n"
    "except m.PackageNotFoundError: sys.exit(3)\n"
)
