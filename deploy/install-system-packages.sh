#!/usr/bin/env bash
# Installs the Debian packages profbot needs, when any is missing: `run` (what `make run` needs: the
# runner's podman and profbot's own Redis) or `test` (default: everything the tests use as well).
#   podman, runc, netavark, aardvark-dns   the container engine the runner drives (runc: crun
#                                          fails on these VMs; netavark + aardvark-dns let
#                                          containers reach each other by name)
#   iptables                               netavark's firewall driver: without it no container on a
#                                          network starts ("netavark: No such file or directory")
#   busybox-static                         the root filesystem of the test images (no registry)
#   redis-server                           the job bus; tests start their own when none answers
#   prometheus, prometheus-alertmanager    the alert path's real client in the tests (a rule that
#                                          fires when Pyroscope stops answering, its webhook to profbot)
#   python3-venv                           for `make setup`
#   python3                                Debian's /usr/bin/python3: the test stand-ins run it in
#                                          busybox containers through read-only bind mounts
#   faketime                               a runner whose clock is off, in the clock-skew test
#   redis-sentinel                         the failover tests: three sentinels over a primary and a
#                                          replica, on free loopback ports (never the service's 26379)
#   systemd                                systemd-analyze: the tests verify the units in deploy/
#                                          (systemd need not run: it is not PID 1 in the tests)
set -euo pipefail

RUN_PACKAGES=(podman runc netavark aardvark-dns iptables redis-server python3-venv)
TEST_PACKAGES=(busybox-static python3 prometheus prometheus-alertmanager faketime systemd redis-sentinel)
case "${1:-test}" in
    run) PACKAGES=("${RUN_PACKAGES[@]}") ;;
    test) PACKAGES=("${RUN_PACKAGES[@]}" "${TEST_PACKAGES[@]}") ;;
    *) echo "usage: $0 [run|test]" >&2; exit 2 ;;
esac

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

missing=()
for package in "${PACKAGES[@]}"; do
    installed "$package" || missing+=("$package")
done
# python3-venv is only needed by Debian's own python3; another python3 with venv will do.
if [[ " ${missing[*]} " == *" python3-venv "* ]] && python3 -c "import ensurepip, venv" 2>/dev/null; then
    missing=("${missing[@]/python3-venv/}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "profbot: missing system packages: ${missing[*]}; as root: apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "profbot: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Install without starting daemons (Prometheus and Alertmanager would start on their default ports):
# the tests run their own, on free loopback ports.
policy=/usr/sbin/policy-rc.d
had_policy=0
[ -e "$policy" ] && had_policy=1
[ "$had_policy" = 1 ] || { printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; }
trap '[ "$had_policy" = 1 ] || rm -f "$policy"' EXIT
apt-get install -y -qq "${missing[@]}" >/dev/null
