#!/bin/sh
# A stand-in for a py-spy-profiled AI service (e.g. ai-yolo26), after the runbook's
# scripts/ai-entrypoint.sh: start the profiler loop in the background if enabled, then idle.
trap 'exit 0' TERM
if [ "${PYROSCOPE_ENABLED:-true}" = "true" ] && [ -n "$SERVICE_NAME" ]; then
    (
        echo "Starting profiler for $SERVICE_NAME (interval ${PROFILE_INTERVAL:-30}s)"
        while true; do sleep "${PROFILE_INTERVAL:-30}"; echo "pushed profile for $SERVICE_NAME"; done
    ) >> /tmp/profiler.log 2>&1 &
fi
while true; do sleep 1; done
