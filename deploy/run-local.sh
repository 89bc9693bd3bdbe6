#!/usr/bin/env bash
# profbot on one machine: `profbot serve` and this host's `profbot runner`, both reading .env.
# In production they run apart (deploy/profbot-serve.service on the bot's machine,
# deploy/profbot-runner.service on every podman host).
set -euo pipefail
VENV=${1:-.venv}
if [ ! -f .env ]; then
    echo "profbot: no .env here; copy deploy/profbot.env.example to .env and fill in the Slack settings" >&2
    exit 2
fi
"$VENV/bin/profbot" runner &
runner=$!
trap 'kill -TERM $runner 2>/dev/null; wait $runner 2>/dev/null' EXIT INT TERM
"$VENV/bin/profbot" serve
