"""An isolated podman service for the tests: its own storage, run dir, socket and config.

It never touches the machine's default containers, storage or socket: the tests share a
machine with other work, and a rig of their own is what lets several run at once. Images are
built from busybox-static: no
registry is reachable. Stand-ins that need Python run the host's interpreter through read-only
bind mounts of /usr, /lib and /lib64.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import httpx

from tests.rig.ports import published_port

STANDINS = Path(__file__).resolve().parent.parent / "standins"
BUSYBOX = shutil.which("busybox") or "/bin/busybox"
IMAGE = "localhost/profbot-standin:latest"

CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""
# Each rig's events in a file of its own: by default every rig's go to /run/libpod/events, and a test
# counting `podman events` for its `pyroscope` also counted other workers' containers of that name.

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
            "PATH": f"{self.dir / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        }
        self._service: subprocess.Popen[bytes] | None = None
        self.pyroscope_port = 0
        self.grafana_port = 0
        # Network definitions and aardvark-dns state are host-wide (/etc/containers/networks,
        # /run/containers/networks), shared by every podman storage: a project name of the rig's
        # own keeps its network apart from any other rig's.
        self.project_name = "profstack" + "".join(c for c in self.dir.name.lower() if c.isalnum())

    # ------------------------------------------------------------------ service

    def start(self) -> None:
        # podman 4.3 answers GET /version (the runners' heartbeat asks it every second in the tests)
        # with the Debian packages of conmon, runc and slirp4netns, each found by `dpkg -S`, which
        # runs `dpkg-query --search` over every package's file list: 1.5-2.5 s of CPU a call here,
        # past the heartbeat's 2 s timeout on a loaded machine. The rig's podman finds a
        # `dpkg-query` that answers at once (packages "Unknown"); versions are unchanged.
        (self.dir / "bin").mkdir()
        (self.dir / "bin" / "dpkg-query").write_text("#!/bin/sh\nexit 1\n")
        (self.dir / "bin" / "dpkg-query").chmod(0o755)
        (self.dir / "containers.conf").write_text(CONTAINERS_CONF + f'events_logfile_path = "{self.dir}/events.log"\n')
        (self.dir / "storage.conf").write_text(
            f'[storage]\ndriver = "overlay"\ngraphroot = "{self.dir}/root"\nrunroot = "{self.dir}/run"\n'
        )
        self.start_service()
        self._build_image()

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
        subprocess.run(
            ["podman", "network", "rm", "-f", f"{self.project_name}_default"], env=self.env, capture_output=True,
            check=False,
        )  # fmt: skip
        subprocess.run(["podman", "volume", "prune", "-f"], env=self.env, capture_output=True, check=False)
        subprocess.run(["podman", "rmi", "-af"], env=self.env, capture_output=True, check=False)
        self.stop_service()
        self._drop_small_data()
        # Not `podman system reset`: network definitions are host-wide, and reset would delete
        # every other rig's networks too. The storage driver's own mount is all that is left.
        subprocess.run(["umount", "-l", str(self.dir / "root" / "overlay")], capture_output=True, check=False)
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
        # `pyroscope --version`, as the real binary prints it (alerts-and-pyroscope.md)
        version = rootfs / "bin" / "pyroscope"
        version.write_text(
            "#!/bin/sh\n"
            'echo "pyroscope, version ${PYROSCOPE_STANDIN_VERSION:-1.18.0} (branch: HEAD, revision: 4c1b4bd)"\n'
        )
        version.chmod(0o755)
        shutil.copy(STANDINS / "py-spy", rootfs / "bin" / "py-spy")
        (rootfs / "bin" / "py-spy").chmod(0o755)
        for script in STANDINS.iterdir():
            if script.is_file():
                shutil.copy(script, rootfs / "standins" / script.name)
        tar_path = self.dir / "rootfs.tar"
        with tarfile.open(tar_path, "w") as tar:
            tar.add(rootfs, arcname=".")
        self.podman("import", str(tar_path), IMAGE)

    # ------------------------------------------------------------------ the compose stack

    @property
    def project(self) -> Path:
        return self.dir / "project"

    @property
    def compose_file(self) -> Path:
        return self.project / "docker-compose.prod.yml"

    @property
    def env_file(self) -> Path:
        return self.project / ".env"

    @property
    def pyroscope_config(self) -> Path:
        return self.project / "monitoring" / "pyroscope" / "pyroscope-config.yml"

    @property
    def grafana_provisioning(self) -> Path:
        return self.project / "monitoring" / "grafana" / "provisioning" / "datasources"

    def runner_env(self) -> dict[str, str]:
        """What a runner on this rig needs: the socket, the project's files, podman's config."""
        return {
            "GRAFANA_URL": f"http://127.0.0.1:{self.grafana_port}",
            "GRAFANA_TOKEN": GRAFANA_TOKEN,
            "PROFBOT_GRAFANA_PROVISIONING_DIR": str(self.grafana_provisioning),
            "CONTAINER_HOST": self.url,
            "PYROSCOPE_URL": f"http://127.0.0.1:{self.pyroscope_port}",
            "PROFBOT_COMPOSE_FILE": str(self.compose_file),
            "PROFBOT_PYROSCOPE_CONFIG": str(self.pyroscope_config),
            "CONTAINERS_CONF": self.env["CONTAINERS_CONF"],
            "CONTAINERS_STORAGE_CONF": self.env["CONTAINERS_STORAGE_CONF"],
        }

    def write_project(self) -> None:
        """The runbook's project: compose file, .env, Pyroscope config, as an operator has them."""
        (self.project / "site-packages" / "pyroscope_io-0.8.11.dist-info").mkdir(parents=True, exist_ok=True)
        (self.project / "site-packages" / "pyroscope_io-0.8.11.dist-info" / "METADATA").write_text(
            "Metadata-Version: 2.1\nName: pyroscope-io\nVersion: 0.8.11\n"
        )
        self.pyroscope_config.parent.mkdir(parents=True, exist_ok=True)
        self.pyroscope_config.write_text(RUNBOOK_PYROSCOPE_CONFIG)
        self.grafana_provisioning.mkdir(parents=True, exist_ok=True)
        for old in self.grafana_provisioning.iterdir():
            old.unlink()
        (self.grafana_provisioning / "prometheus.yml").write_text(
            "apiVersion: 1\ndatasources:\n  - name: Prometheus\n    type: prometheus\n    url: http://prometheus:9090\n"
        )
        self.env_file.write_text("PYROSCOPE_ENABLED=true\nGRAFANA_ADMIN_PASSWORD=admin-secret-1\n")
        for leftover in (self.project / "docker-compose.profbot.yml", *self.pyroscope_config.parent.glob("*.bak")):
            leftover.unlink(missing_ok=True)
        self.compose_file.write_text(compose_yaml(self.project_name, self.pyroscope_port, self.grafana_port))

    def compose(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "podman_compose", "-f", str(self.compose_file), *args],
            env=self.env, cwd=self.project, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"podman-compose {' '.join(args)} failed: {result.stdout}{result.stderr}")
        return result

    def start_stack(self, port: int) -> None:
        self.pyroscope_port = port
        self.grafana_port = published_port()
        self.write_project()
        self.compose("up", "-d")
        self.wait_pyroscope_ready()

    def reset_stack(self) -> None:
        """Back to the operator's files and freshly created containers, whatever a test changed."""
        self.write_project()
        # Every container goes at once, killed (the stack's and any a test added beside it), and so
        # does the data volume, swapped or filled; compose then creates the stack afresh. (One
        # `podman rm` instead of compose's --force-recreate, which stops them one by one.)
        names = self.podman("ps", "-a", "--format", "{{.Names}}").stdout.split()
        if names:
            self.podman("rm", "-f", "-t", "0", *names, check=False)
        self.podman("volume", "rm", "-f", "pyroscope_data", check=False)
        self._drop_small_data()
        self.compose("up", "-d")
        self.wait_pyroscope_ready()
        self.wait_backend_finds_pyroscope()

    def wait_backend_finds_pyroscope(self, timeout: float = 20) -> None:
        """Until `backend` resolves `pyroscope` on the stack's network: podman's DNS learns a new
        container a moment after it runs, and a push made meanwhile fails (name not known)."""
        probe = "import socket; socket.gethostbyname('pyroscope')"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.podman("exec", "backend", "/usr/bin/python3", "-c", probe, check=False).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("backend never resolved pyroscope")

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

    def ensure_pyroscope_healthy(self) -> None:
        """Put `pyroscope` back to running and ready, whatever a previous test did to it."""
        exists = self.podman("container", "exists", "pyroscope", check=False).returncode == 0
        if not exists:
            self.compose("up", "-d", "pyroscope")
        self.podman("exec", "pyroscope", "rm", "-f", "/tmp/unhealthy", check=False)
        state = self.podman("inspect", "pyroscope", "--format", "{{.State.Status}}").stdout.strip()
        if state != "running":
            self.podman("start", "pyroscope")
        self.wait_pyroscope_ready()

    @property
    def small_data(self) -> Path:
        return self.dir / "small-data"

    def use_small_data_volume(self, size: str = "8m") -> None:
        """Give `pyroscope` a small `pyroscope_data` (a bind of an 8 MiB tmpfs), so a test can fill
        it past 95 % (INC-PROF-004). podman 4.3's local driver refuses a size option on tmpfs."""
        self.podman("rm", "-f", "-t", "0", "pyroscope")
        self.podman("volume", "rm", "-f", "pyroscope_data")
        self.small_data.mkdir(exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(self.small_data)], check=True)
        self.podman(
            "volume", "create", "--opt", "type=none", "--opt", f"device={self.small_data}", "--opt", "o=bind",
            "pyroscope_data",
        )  # fmt: skip
        self.compose("up", "-d", "pyroscope")
        self.wait_pyroscope_ready()

    def _drop_small_data(self) -> None:
        if self.small_data.is_dir() and os.path.ismount(self.small_data):
            subprocess.run(["umount", str(self.small_data)], check=False)

    def inspect(self, name: str, template: str) -> str:
        return self.podman("inspect", name, "--format", template).stdout.strip()


STACK_CONTAINERS = {"pyroscope", "ai-yolo26", "backend", "grafana", "database"}
GRAFANA_TOKEN = "glsa_profbot_test_token_0123456789"

# The runbook's appendix, as the operators have it: Pyroscope v0 keys that v1 would refuse.
RUNBOOK_PYROSCOPE_CONFIG = """\
# Default Pyroscope configuration
analytics-opt-out: true

# Storage configuration
storage:
  path: /data

# Retention (15 days default)
retention-period: 15d

# Server configuration
server:
  http-listen-port: 4040
"""


def compose_yaml(project: str, port: int, grafana_port: int) -> str:
    binds = "\n".join(f"      - {bind}" for bind in HOST_PYTHON_BINDS[1::2])
    health = HEALTH_CMD.replace('"', '\\"')
    return f"""\
name: {project}
services:
  pyroscope:
    image: {IMAGE}
    container_name: pyroscope
    command: ["/usr/bin/python3", "/standins/pyroscope_standin.py"]
    ports: ["127.0.0.1:{port}:4040"]
    environment:
      - PYROSCOPE_STANDIN_VERSION=1.18.0
    volumes:
      - pyroscope_data:/data
      - ./monitoring/pyroscope/pyroscope-config.yml:/etc/pyroscope/server.yml:ro
{binds}
    healthcheck:
      test: ["CMD-SHELL", "{health}"]
      interval: 30s
      retries: 1
  ai-yolo26:
    image: {IMAGE}
    container_name: ai-yolo26
    command: ["/bin/sh", "/standins/profiled_service.sh"]
    labels:
      pyroscope.profile: 'true'
      pyroscope.service: 'ai-yolo26'
    environment:
      - SERVICE_NAME=ai-yolo26
      - PYROSCOPE_ENABLED=${{PYROSCOPE_ENABLED:-true}}
      - PYROSCOPE_URL=http://pyroscope:4040
      - PROFILE_INTERVAL=30
      - HF_TOKEN=hf_live_secret_0123456789
  backend:
    image: {IMAGE}
    container_name: backend
    command: ["/usr/bin/python3", "/standins/backend_standin.py"]
    labels:
      pyroscope.profile: 'true'
      pyroscope.service: 'backend'
    environment:
      - SERVICE_NAME=backend
      - PYROSCOPE_ENABLED=${{PYROSCOPE_ENABLED:-true}}
      - PYROSCOPE_URL=http://pyroscope:4040
      - PYTHONPATH=/opt/site
      - DATABASE_URL=postgresql://app:db-password-42@db:5432/app
    volumes:
      - ./site-packages:/opt/site:ro
{binds}
  grafana:
    image: {IMAGE}
    container_name: grafana
    command: ["/usr/bin/python3", "/standins/grafana_standin.py"]
    ports: ["127.0.0.1:{grafana_port}:3000"]
    environment:
      - GRAFANA_STANDIN_TOKEN={GRAFANA_TOKEN}
    volumes:
      - ./monitoring/grafana/provisioning/datasources:/etc/grafana/provisioning/datasources:ro
{binds}
  database:
    image: {IMAGE}
    container_name: database
    command: ["/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
volumes:
  pyroscope_data:
    name: pyroscope_data
"""
