"""An isolated podman service for the tests: its own storage, run dir, socket and config.

It never touches the machine's default containers (see
``../shared/reference/podman-on-these-machines.md``). Images are built from busybox-static: no
registry is reachable. Stand-ins that need Python run the host's interpreter through read-only
bind mounts of /usr, /lib and /lib64.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

import httpx

STANDINS = Path(__file__).resolve().parent.parent / "standins"
BUSYBOX = shutil.which("busybox") or "/bin/busybox"
IMAGE = "localhost/profbot-standin:latest"
NETWORK = "profbot-test"

CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""

HEALTH_CMD = (
    "/usr/bin/python3 -c \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:4040/ready', timeout=2)\""
)
HOST_PYTHON_BINDS = ["-v", "/usr:/usr:ro", "-v", "/lib:/lib:ro"] + (
    ["-v", "/lib64:/lib64:ro"] if os.path.isdir("/lib64") else []
)


class PodmanRig:
    def __init__(self) -> None:
        # Short path: a unix socket path must stay under 108 bytes.
        self.dir = Path(tempfile.mkdtemp(prefix="pbp-", dir="/tmp"))
        self.socket = self.dir / "podman.sock"
        self.url = f"unix://{self.socket}"
        self.env = {
            **os.environ,
            "CONTAINERS_CONF": str(self.dir / "containers.conf"),
            "CONTAINERS_STORAGE_CONF": str(self.dir / "storage.conf"),
        }
        self._service: subprocess.Popen[bytes] | None = None
        self.pyroscope_port = 0

    # ------------------------------------------------------------------ service

    def start(self) -> None:
        (self.dir / "containers.conf").write_text(CONTAINERS_CONF)
        (self.dir / "storage.conf").write_text(
            f'[storage]\ndriver = "overlay"\ngraphroot = "{self.dir}/root"\nrunroot = "{self.dir}/run"\n'
        )
        self.start_service()
        self._build_image()
        self.podman("network", "create", NETWORK)

    def start_service(self) -> None:
        log = open(self.dir / "service.log", "ab")  # noqa: SIM115 - owned by the child process
        self._service = subprocess.Popen(
            ["podman", "system", "service", "--time=0", self.url],
            env=self.env,
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.socket.exists():
                try:
                    transport = httpx.HTTPTransport(uds=str(self.socket))
                    with httpx.Client(transport=transport, timeout=2) as client:
                        if client.get("http://d/_ping").status_code == 200:
                            return
                except httpx.HTTPError:
                    pass
            time.sleep(0.1)
        raise RuntimeError(f"podman service did not start; see {self.dir / 'service.log'}")

    def stop_service(self) -> None:
        if self._service is not None:
            self._service.terminate()
            try:
                self._service.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._service.kill()
            self._service = None

    def close(self) -> None:
        subprocess.run(["podman", "rm", "-af", "-t", "0"], env=self.env, capture_output=True, check=False)
        subprocess.run(["podman", "volume", "prune", "-f"], env=self.env, capture_output=True, check=False)
        self.stop_service()
        subprocess.run(["podman", "system", "reset", "-f"], env=self.env, capture_output=True, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    def podman(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(["podman", *args], env=self.env, capture_output=True, text=True, check=False)
        if check and result.returncode != 0:
            raise RuntimeError(f"podman {' '.join(args)} failed ({result.returncode}): {result.stderr}")
        return result

    def _build_image(self) -> None:
        rootfs = self.dir / "rootfs"
        for sub in ("bin", "tmp", "www", "data", "etc", "usr", "lib", "lib64", "standins"):
            (rootfs / sub).mkdir(parents=True, exist_ok=True)
        shutil.copy(BUSYBOX, rootfs / "bin" / "busybox")
        applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True).stdout.split()
        for applet in applets:
            link = rootfs / "bin" / applet
            if not link.exists():
                link.symlink_to("busybox")
        (rootfs / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
        (rootfs / "etc" / "group").write_text("root:x:0:\n")
        for script in STANDINS.iterdir():
            if script.is_file():
                shutil.copy(script, rootfs / "standins" / script.name)
        tar_path = self.dir / "rootfs.tar"
        with tarfile.open(tar_path, "w") as tar:
            tar.add(rootfs, arcname=".")
        self.podman("import", str(tar_path), IMAGE)

    # ------------------------------------------------------------------ stand-in containers

    def run_pyroscope(self, port: int) -> None:
        """The `pyroscope` container: a Pyroscope v1 stand-in published on 127.0.0.1:port."""
        self.pyroscope_port = port
        self.podman(
            "run", "-d", "--name", "pyroscope", "--network", NETWORK,
            "-p", f"127.0.0.1:{port}:4040",
            "-v", "pyroscope_data:/data",
            *HOST_PYTHON_BINDS,
            "--health-cmd", HEALTH_CMD,
            "--health-retries", "1",
            "--label", "com.docker.compose.service=pyroscope",
            IMAGE, "/usr/bin/python3", "/standins/pyroscope_standin.py",
        )  # fmt: skip
        self.wait_pyroscope_ready()

    def wait_pyroscope_ready(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.pyroscope_port}/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("pyroscope stand-in never became ready")

    def run_profiled_service(self, name: str = "ai-yolo26", *, interval: int = 30, enabled: bool = True) -> None:
        self.podman(
            "run", "-d", "--name", name, "--network", NETWORK,
            "--label", "pyroscope.profile=true", "--label", f"pyroscope.service={name}",
            "--label", f"com.docker.compose.service={name}",
            "-e", f"SERVICE_NAME={name}", "-e", f"PYROSCOPE_ENABLED={'true' if enabled else 'false'}",
            "-e", f"PROFILE_INTERVAL={interval}", "-e", "PYROSCOPE_URL=http://pyroscope:4040",
            IMAGE, "/bin/sh", "/standins/profiled_service.sh",
        )  # fmt: skip

    def run_backend(self) -> None:
        self.podman(
            "run", "-d", "--name", "backend", "--network", NETWORK,
            "--label", "pyroscope.profile=true", "--label", "pyroscope.service=backend",
            "--label", "com.docker.compose.service=backend",
            "-e", "SERVICE_NAME=backend", "-e", "PYROSCOPE_ENABLED=true",
            "-e", "PYROSCOPE_URL=http://pyroscope:4040",
            *HOST_PYTHON_BINDS,
            IMAGE, "/usr/bin/python3", "/standins/backend_standin.py",
        )  # fmt: skip

    def ensure_pyroscope_healthy(self) -> None:
        """Put `pyroscope` back to running and ready, whatever a previous test did to it."""
        self.podman("exec", "pyroscope", "rm", "-f", "/tmp/unhealthy", check=False)
        state = self.podman("inspect", "pyroscope", "--format", "{{.State.Status}}").stdout.strip()
        if state != "running":
            self.podman("start", "pyroscope")
        self.wait_pyroscope_ready()
