#!/bin/sh
# Stand-in for scripts/pyroscope-profiler.sh: log the start, then record with "py-spy" for
# INTERVAL seconds at a time, back to back, as the real script does.
SERVICE=$1 URL=$2 INTERVAL=$3
echo "Starting profiler for $SERVICE (pushing to $URL every ${INTERVAL}s)"
while true; do
    /bin/py-spy record --format speedscope --duration "$INTERVAL" --nonblocking --pid 1 -o /tmp/profile.json
    echo "pushed profile for $SERVICE"
done
