#!/bin/sh
# A stand-in for a py-spy-profiled AI service (e.g. ai-yolo26), after the runbook's
# scripts/ai-entrypoint.sh: start the profiler script in the background if enabled, then idle.
trap 'exit 0' TERM
if [ "${PYROSCOPE_ENABLED:-true}" = "true" ] && [ -n "$SERVICE_NAME" ]; then
    /bin/sh /standins/pyroscope-profiler.sh "$SERVICE_NAME" \
        "${PYROSCOPE_URL:-http://pyroscope:4040}" "${PROFILE_INTERVAL:-30}" >> /tmp/profiler.log 2>&1 &
fi
while true; do sleep 1; done
