#!/usr/bin/env bash
# Installs profbot's runner on this podman host, as root, and says what it did:
#
#   deploy/install-runner.sh HOST_ID [WHEEL | SOURCE_DIR]
#
#   package   a virtualenv in /opt/profbot/.venv with profbot from the wheel, or from the source
#             directory (default: the checkout this script is in), with its dependencies from PyPI
#   settings  /etc/profbot/runner.env (mode 0600): deploy/profbot.env.example's shared and runner
#             settings with PROFBOT_HOST_ID=HOST_ID. An existing file is never overwritten.
#   unit      /etc/systemd/system/profbot-runner.service, and its drop-in
#             profbot-runner.service.d/paths.conf: the directories runner.env names (the compose
#             file's, Pyroscope's config's, Grafana's provisioning), the only ones the runner may write
#             (never /, a system directory, profbot's own, or a path with '.', '..' or '//' in it)
#   systemd   `systemctl enable --now podman.socket profbot-runner.service` (the runner once
#             runner.env sets REDIS_URL), and a restart of the runner when anything above changed
#
# Idempotent: run it again after an upgrade or after changing runner.env's paths; what is already as
# it should be is left alone, and it says so.
#
# For packagers and tests: PROFBOT_INSTALL_ROOT installs under a staging root (like DESTDIR; no
# systemctl then, and the virtualenv is made where it lies), PROFBOT_PREFIX replaces /opt/profbot,
# PYTHON the interpreter for the virtualenv (python3), PIP_OPTIONS adds `pip install` options (e.g.
# "--no-index --find-links DIR" on a host without PyPI).
set -euo pipefail

usage() {
    echo "usage: $0 HOST_ID [WHEEL | SOURCE_DIR]" >&2
    exit 2
}
if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
HOST_ID=$1
if ! [[ $HOST_ID =~ ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$ ]]; then
    echo "install-runner: HOST_ID must be letters, digits, '.', '_' or '-' (not first): $HOST_ID" >&2
    exit 2
fi
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SOURCE=$(realpath -m "${2:-$HERE/..}")
ROOT=${PROFBOT_INSTALL_ROOT:-}
PREFIX=${PROFBOT_PREFIX:-/opt/profbot}
PYTHON=${PYTHON:-python3}
read -r -a PIP_OPTS <<< "${PIP_OPTIONS:-}"
# profbot's packages (pyproject.toml's [tool.setuptools.packages.find]): what a source install is made of.
PACKAGES=(cli bot handlers profbot runner)

VENV=$PREFIX/.venv
STAMP=$PREFIX/.installed-from
ENV_FILE=/etc/profbot/runner.env
UNIT=/etc/systemd/system/profbot-runner.service
DROPIN=/etc/systemd/system/profbot-runner.service.d/paths.conf

if [ -z "$ROOT" ] && [ "$(id -u)" -ne 0 ]; then
    echo "install-runner: run it as root: it writes $PREFIX, /etc/profbot and /etc/systemd/system" >&2
    exit 1
fi
if ! { [ -f "$SOURCE" ] && [[ $SOURCE == *.whl ]]; } && ! [ -f "$SOURCE/pyproject.toml" ]; then
    echo "install-runner: $SOURCE is neither a profbot wheel nor its source directory" >&2
    exit 2
fi

say() { echo "install-runner: $*"; }
changes=0
restart_runner=0
unit_files_changed=0

# Writes stdin to ROOT/PATH with MODE when its content differs; returns 1 when it was already so.
install_text() {
    local target=$ROOT$1 mode=$2 draft
    draft=$(mktemp "$(dirname "$target")/.install-runner.XXXXXX")
    cat > "$draft"
    chmod "$mode" "$draft"
    if [ -f "$target" ] && cmp -s "$draft" "$target"; then
        rm -f "$draft"
        return 1
    fi
    mv -f "$draft" "$target"
}

# The last value runner.env gives NAME (without quotes), or nothing. Read, never sourced: it is data.
env_value() {
    sed -n -E "s/^[[:space:]]*(export[[:space:]]+)?$1=(.*)$/\2/p" "$ROOT$ENV_FILE" | tail -n 1 \
        | sed -E "s/^[\"'](.*)[\"'][[:space:]]*$/\1/; s/[[:space:]]+$//"
}

# ------------------------------------------------------------------ package

fingerprint() {
    if [ -f "$SOURCE" ]; then
        sha256sum "$SOURCE" | cut -d' ' -f1
    else
        (cd "$SOURCE" && find pyproject.toml "${PACKAGES[@]}" -type f ! -name '*.pyc' -print0 \
            | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
    fi
}

installed_version() {
    "$ROOT$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("profbot"))' 2>/dev/null || echo "?"
}

install_package() {
    local print had
    print=$(fingerprint)
    if [ -x "$ROOT$VENV/bin/profbot" ] && [ -f "$ROOT$STAMP" ] && [ "$(cat "$ROOT$STAMP")" = "$print" ]; then
        say "package: profbot $(installed_version) in $VENV, already installed from $SOURCE"
        return
    fi
    had=0
    [ -x "$ROOT$VENV/bin/profbot" ] && had=1
    mkdir -p "$ROOT$PREFIX"
    [ -x "$ROOT$VENV/bin/python" ] || "$PYTHON" -m venv "$ROOT$VENV"
    "$ROOT$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PIP_OPTS[@]}" "$SOURCE"
    if [ "$had" = 1 ]; then  # pip keeps an installed profbot of the same version: this one replaces it
        "$ROOT$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall \
            "${PIP_OPTS[@]}" "$SOURCE"
    fi
    echo "$print" > "$ROOT$STAMP"
    say "package: installed profbot $(installed_version) into $VENV from $SOURCE"
    changes=$((changes + 1))
    restart_runner=1
}

# ------------------------------------------------------------------ settings

runner_settings() {
    # The header, then the example's sections for both sides and for the runner (no Slack setting).
    echo "# profbot runner settings, written by deploy/install-runner.sh from deploy/profbot.env.example."
    echo "# Yours to edit: it is never overwritten. After changing the paths below, run install-runner.sh"
    echo "# again (the runner may write only where they point)."
    awk '/^# ---- / { keep = ($0 ~ /^# ---- (both|profbot runner)/) } keep' "$HERE/profbot.env.example" \
        | sed -E "s/^#[[:space:]]*PROFBOT_HOST_ID=.*/PROFBOT_HOST_ID=$HOST_ID/"
}

install_settings() {
    mkdir -p "$ROOT$(dirname "$ENV_FILE")"
    if [ -e "$ROOT$ENV_FILE" ]; then
        local set_id
        set_id=$(env_value PROFBOT_HOST_ID)
        if [ -n "$set_id" ] && [ "$set_id" != "$HOST_ID" ]; then
            say "settings: $ENV_FILE exists and says PROFBOT_HOST_ID=$set_id, not $HOST_ID: left as it is (edit it to change)"
        else
            say "settings: $ENV_FILE exists, left as it is"
        fi
        return
    fi
    runner_settings | install_text "$ENV_FILE" 0600
    grep -q "^PROFBOT_HOST_ID=$HOST_ID\$" "$ROOT$ENV_FILE" || echo "PROFBOT_HOST_ID=$HOST_ID" >> "$ROOT$ENV_FILE"
    say "settings: wrote $ENV_FILE (PROFBOT_HOST_ID=$HOST_ID)"
    changes=$((changes + 1))
    restart_runner=1
}

# ------------------------------------------------------------------ unit and its writable paths

install_unit() {
    mkdir -p "$ROOT$(dirname "$UNIT")"
    if sed "s#/opt/profbot#$PREFIX#g" "$HERE/profbot-runner.service" | install_text "$UNIT" 0644; then
        say "unit: installed $UNIT"
        changes=$((changes + 1))
        restart_runner=1
        unit_files_changed=1
    else
        say "unit: $UNIT up to date"
    fi
}

# Directories the runner is never let write, whatever runner.env says: the root, the system's own
# top-level directories, and profbot's own installation (its code would then be the runner's to change).
NEVER_WRITABLE=(/ /bin /boot /dev /etc /home /lib /lib32 /lib64 /libx32 /opt /proc /root /run /sbin /srv /sys /tmp /usr /var)

# Why PATH (from NAME in runner.env) may not be made writable, or nothing when it may.
unwritable_because() {
    local path=$1 never
    if [[ $path != /* || $path == *[[:space:]\"\'\\]* ]]; then
        echo "is not an absolute path without spaces or quotes"
        return
    fi
    # '.', '..', '//' or a trailing '/': the directory meant is not the one written, and may lie above it.
    if [[ /$path/ == */./* || /$path/ == */../* || $path == *//* || ( $path != / && $path == */ ) ]]; then
        echo "is not a plain path (a '.', '..', '//' or trailing '/' in it)"
        return
    fi
    for never in "${NEVER_WRITABLE[@]}"; do
        if [ "$path" = "$never" ]; then
            echo "is $( [ "$path" = / ] && echo "the root directory" || echo "a system directory"): the runner would write everywhere in it"
            return
        fi
    done
    if [ "$path" = "$PREFIX" ] || [[ $path == "$PREFIX"/* ]]; then
        echo "is profbot's own installation ($PREFIX)"
    fi
}

writable_paths() {
    local name value path why
    for name in PROFBOT_COMPOSE_FILE PROFBOT_ENV_FILE PROFBOT_PYROSCOPE_CONFIG PROFBOT_GRAFANA_PROVISIONING_DIR; do
        value=$(env_value "$name")
        [ -n "$value" ] || continue
        why=$(unwritable_because "$value")
        path=$value
        if [ -z "$why" ] && [ "$name" != PROFBOT_GRAFANA_PROVISIONING_DIR ]; then
            # A file: its directory is what the runner writes (profbot's files and backups beside it).
            path=$(dirname "$value")
            why=$(unwritable_because "$path")
            why=${why:+its directory $path $why}
        fi
        if [ -n "$why" ]; then
            say "unit: $name=$value (in $ENV_FILE): ${why}: not made writable" >&2
            continue
        fi
        echo "$path"
    done | LC_ALL=C sort -u
}

dropin_text() {
    echo "# Written by deploy/install-runner.sh from $ENV_FILE: where the runner may write (the rest of"
    echo "# the system is read-only to it). Run install-runner.sh again after changing those settings."
    echo "[Service]"
    # '-': a directory missing at start does not stop the runner (only the operations that need it fail).
    if [ -n "$1" ]; then
        echo "ReadWritePaths=$(echo "$1" | sed 's/^/-/' | paste -sd ' ')"
    fi
}

install_dropin() {
    local paths shown
    mkdir -p "$ROOT$(dirname "$DROPIN")"
    paths=$(writable_paths)
    shown=${paths//$'\n'/, }
    if dropin_text "$paths" | install_text "$DROPIN" 0644; then
        say "unit: wrote $DROPIN (writable: ${shown:-nothing yet: runner.env names no compose file, config or provisioning directory})"
        changes=$((changes + 1))
        restart_runner=1
        unit_files_changed=1
    else
        say "unit: $DROPIN up to date (writable: ${shown:-nothing})"
    fi
}

# ------------------------------------------------------------------ systemd

enable_units() {
    local redis
    redis=$(env_value REDIS_URL)
    if [ -n "$ROOT" ]; then
        say "systemd: not touched (installing under $ROOT); on the host: systemctl daemon-reload && systemctl enable --now podman.socket profbot-runner.service"
        return
    fi
    if [ ! -d /run/systemd/system ]; then
        say "systemd: not running on this machine, nothing enabled; where it runs: systemctl enable --now podman.socket profbot-runner.service"
        return
    fi
    [ "$unit_files_changed" = 0 ] || systemctl daemon-reload
    if systemctl is-enabled --quiet podman.socket && systemctl is-active --quiet podman.socket; then
        say "systemd: podman.socket enabled and listening"
    else
        systemctl enable --now podman.socket
        say "systemd: enabled and started podman.socket"
        changes=$((changes + 1))
    fi
    if [ -z "$redis" ]; then
        say "systemd: profbot-runner not started: set REDIS_URL in $ENV_FILE to the Redis the bot uses, then run this again"
        return
    fi
    if ! systemctl is-enabled --quiet profbot-runner.service || ! systemctl is-active --quiet profbot-runner.service; then
        systemctl enable --now profbot-runner.service
        say "systemd: enabled and started profbot-runner (journalctl -u profbot-runner to follow it)"
        changes=$((changes + 1))
    elif [ "$restart_runner" = 1 ]; then
        systemctl restart profbot-runner.service
        say "systemd: restarted profbot-runner, for the changes above"
        changes=$((changes + 1))
    else
        say "systemd: profbot-runner enabled and running"
    fi
}

install_package
install_settings
install_unit
install_dropin
enable_units
if [ "$changes" = 0 ]; then
    say "nothing changed: the runner was already installed as asked"
else
    say "done: $changes change(s)"
fi
