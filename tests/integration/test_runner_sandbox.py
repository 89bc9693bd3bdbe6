"""The runner's compose steps within what deploy/profbot-runner.service leaves it: the whole system
read-only except the compose directory (its drop-in's ReadWritePaths) and a private temporary
directory, no capability but the unit's own set, no new privileges, and podman reached through
CONTAINER_HOST alone (podman-compose's `podman` is then only a client of the socket).

systemd is not PID 1 on the test machines, so the sandbox is made the way systemd makes it: a mount
namespace whose mounts are remounted read-only (unshare), and the unit's capability sets and
no_new_privs set before exec (setpriv, from the unit file)."""

from __future__ import annotations

import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.rig import runner_unit
from tests.rig.podman_rig import PodmanRig

# Run inside the sandbox: one runbook step as the runner takes it (runner.compose, the same code),
# then a write outside the writable paths, which must fail.
STEP = """
import asyncio, sys
from pathlib import Path
from runner.compose import ComposeProject

status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print("CapEff", int(status["CapEff"], 16))
project = ComposeProject(Path(sys.argv[1]))
print(project.set_service_env("ai-yolo26", {"PROFILE_INTERVAL": "45"}))
asyncio.run(project.up("ai-yolo26", force_recreate=True))
try:
    Path(sys.argv[2]).write_text("x")
    print("outside: written")
except OSError as exc:
    print("outside:", exc.strerror)
"""


def sandboxed(rig: PodmanRig, private_tmp: Path, outside: Path) -> subprocess.CompletedProcess[str]:
    compose_dir = shlex.quote(str(rig.project))
    shell = f"""
set -e
# ProtectSystem=strict: every mount read-only (the API file systems aside).
for mount in $(findmnt -rn -o TARGET | grep -Ev '^/(proc|sys|dev)(/|$)'); do
    mount -o remount,bind,ro "$mount" 2>/dev/null || mount --bind -o ro "$mount" "$mount" 2>/dev/null || true
done
# ReadWritePaths= (the compose directory) and PrivateTmp=yes.
mount --bind {compose_dir} {compose_dir} && mount -o remount,bind,rw {compose_dir}
mount -t tmpfs tmpfs {shlex.quote(str(private_tmp))}
cd {compose_dir}
exec env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root TMPDIR={shlex.quote(str(private_tmp))} \\
    CONTAINER_HOST={shlex.quote(rig.url)} \\
    {shlex.join(runner_unit.setpriv())} \\
    {shlex.quote(sys.executable)} -c {shlex.quote(STEP)} {shlex.quote(str(rig.compose_file))} \\
    {shlex.quote(str(outside))}
"""
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", shell],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_a_compose_step_runs_with_only_what_the_runner_unit_allows(stack: PodmanRig) -> None:
    outside = stack.dir / "outside-the-compose-directory"
    with tempfile.TemporaryDirectory(prefix="pbsandbox-") as private_tmp:
        result = sandboxed(stack, Path(private_tmp), outside)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"CapEff {runner_unit.capability_mask(runner_unit.capability_set('CapabilityBoundingSet'))}"
    assert lines[1] == "set PROFILE_INTERVAL=45 for ai-yolo26 in docker-compose.profbot.yml"
    assert lines[-1] == "outside: Read-only file system"
    assert not outside.exists()
    # The step reached the host's podman through the socket: the container was recreated with it.
    env = stack.podman("inspect", "ai-yolo26", "--format", "{{range .Config.Env}}{{println .}}{{end}}").stdout
    assert "PROFILE_INTERVAL=45" in env.splitlines()
