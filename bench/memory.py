"""Memory of a long-running `profbot serve` and `profbot runner`: resident set size after 1,000
commands and after 5,000.

From this separate process: signed slash commands to a real `profbot serve` backed by Redis
(`/prof health`, `/prof freshness` and `/prof runners` in turn), with a real `profbot runner` on
the isolated podman rig answering the jobs they start (health and freshness checks against the
rig's Pyroscope stand-in), and the Slack stand-in, in a process of its own, receiving the posts.
CONCURRENCY people ask at once, each waiting for the answer (the post) before asking again. After
each batch the bench waits until the bot has posted nothing for SETTLE seconds (its background
work done), then reads VmRSS from /proc/<pid>/status.

Why people who wait: the bot acknowledges a command at once and answers it in the background, so
commands sent as fast as they are acknowledged pile up unanswered (serve had grown to about 200
Redis connections and 200 HTTP connections to Slack on this machine, each unanswered command
holding its own, with its report). What that measures is how deep the bench lets the backlog
grow on the machine it runs on, which CPython's allocator then keeps as free but unreturned
pages; with at most CONCURRENCY unanswered commands, the figure is the processes' own footprint
under steady use. (Fired that way, serve measured 80.9 MB after 1,000 and the runner 61.4.)

serve and runner run from a virtualenv holding what `pip install .` installs (deploy/Containerfile,
deploy/install-runner.sh): profbot's wheel, compiled on install as pip does, and the closure of
its declared dependencies, linked from this virtualenv, without the dev extras. The dev extras are
not inert: with rich and click installed, structlog and httpx import them (and pygments) at
start, a few MB that no deployed process carries; and this checkout's modules would be compiled
at every start (PYTHONDONTWRITEBYTECODE is set here), which a wheel's are not.

Targets: serve under 80 MB and runner under 60 MB after 1,000 commands, and no
growth from 1,000 to 5,000. "No growth" is taken as: RSS after 5,000 at most 5 % above RSS
after 1,000 (about 3 to 4 MB for these processes). CPython's allocator seldom gives pages back,
so a leak shows as steady growth, while a process that keeps nothing per command stays within a
few pages of where it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import aiohttp
import httpx
from packaging.requirements import Requirement

from bench.machine import describe
from bench.rig import bus_redis
from bench.table import Row, at_most
from tests.rig.podman_rig import PodmanRig
from tests.rig.ports import free_port
from tests.rig.processes import REPO, BotProcess, RunnerProcess
from tests.rig.slack_requests import command_body, sign

FIRST = 1_000
TOTAL = 5_000
CONCURRENCY = 10
COMMANDS = ("health", "freshness", "runners")
SETTLE = 3.0
POSTS = ("chat.postMessage", "chat.update", "response_url")  # what the Slack stand-in counts as answers
SERVE_TARGET_MB = 80
RUNNER_TARGET_MB = 60
GROWTH_TARGET_PERCENT = 5


def installed_closure(root: str = "profbot") -> list[metadata.Distribution]:
    """``root`` and every distribution it requires, transitively, without extras."""
    found: dict[str, metadata.Distribution] = {}
    todo = [root]
    while todo:
        name = todo.pop()
        key = name.lower().replace("_", "-")
        if key in found:
            continue
        found[key] = dist = metadata.distribution(name)
        for spec in dist.requires or []:
            requirement = Requirement(spec)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return list(found.values())


def production_venv(where: Path) -> Path:
    """A virtualenv at ``where`` as `pip install .` makes it: profbot's wheel installed (compiled, as
    pip does), and its dependencies' files linked in from this virtualenv, nothing else; its
    interpreter."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where / "venv")], check=True)
    python = where / "venv" / "bin" / "python"
    source = where / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for package in ("cli", "bot", "handlers", "profbot", "runner"):
        shutil.copytree(REPO / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", str(where / "dist"),
                    str(source)], check=True)  # fmt: skip
    [wheel] = (where / "dist").glob("profbot-*.whl")
    subprocess.run([*pip, "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)], check=True)
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(subprocess.run([python, "-c", purelib], capture_output=True, text=True, check=True).stdout.strip())
    for dist in installed_closure():
        if dist.metadata["Name"] == "profbot":
            continue
        base = Path(str(dist.locate_file("")))
        for file in dist.files or []:
            source_file, target = base / file, site / file
            if str(file).startswith("..") or not source_file.exists() or target.exists():
                continue  # scripts outside site-packages; a file two distributions both list
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(source_file)
    return python


@contextlib.contextmanager
def interpreter(python: Path) -> Iterator[None]:
    """tests/rig/processes.py starts profbot with ``sys.executable``: this one, while inside."""
    own, sys.executable = sys.executable, str(python)
    try:
        yield
    finally:
        sys.executable = own


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


async def fire(url: str, response_url: str, slack_port: int, before: int, start: int, count: int) -> int:
    """Commands ``start`` to ``start + count`` (each answered by one post), from CONCURRENCY people
    at once who each wait for their answer before asking again: at most CONCURRENCY commands
    unanswered at any time (``before``: the posts the stand-in had before the first command). How
    many the bot did not acknowledge with 200."""
    failed = 0
    answered = start
    following = start
    finished = asyncio.Event()
    progress = asyncio.Condition()
    connector = aiohttp.TCPConnector(limit=CONCURRENCY + 1)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def count_answers() -> None:
            nonlocal answered
            while not finished.is_set():
                total = 0
                for method in POSTS:
                    async with session.get(f"http://127.0.0.1:{slack_port}/_count/{method}") as counted:
                        total += int(await counted.text())
                async with progress:
                    answered = total - before
                    progress.notify_all()
                await asyncio.sleep(0.02)

        async def person() -> None:
            nonlocal failed, following
            while following < start + count:
                i, following = following, following + 1
                async with progress:
                    await progress.wait_for(lambda: answered >= i + 1 - CONCURRENCY)  # noqa: B023 - awaited here
                body = command_body(COMMANDS[i % len(COMMANDS)], response_url=response_url)
                headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body)}
                async with session.post(f"{url}/slack/events", data=body, headers=headers) as response:
                    await response.read()
                    failed += response.status != 200

        counter = asyncio.create_task(count_answers())
        await asyncio.gather(*(person() for _ in range(CONCURRENCY)))
        finished.set()
        await counter
    return failed


def posted(slack_port: int) -> int:
    return sum(int(httpx.get(f"http://127.0.0.1:{slack_port}/_count/{method}", timeout=10).text) for method in POSTS)


def settle(slack_port: int, timeout: float = 600) -> int:
    """Wait until nothing was posted for SETTLE seconds; the number of posts so far."""
    deadline = time.monotonic() + timeout
    last, quiet_since = posted(slack_port), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = posted(slack_port)
        if now != last:
            last, quiet_since = now, time.monotonic()
        elif time.monotonic() - quiet_since >= SETTLE:
            break
    return last


def main() -> list[Row]:
    with bus_redis() as (redis_url, prefix):
        return measure(redis_url, prefix)


def measure(redis_url: str, prefix: str) -> list[Row]:
    venv = Path(tempfile.mkdtemp(prefix="profbot-bench-venv-"))
    rig = PodmanRig()
    bot = runner = None
    slack = subprocess.Popen(
        [sys.executable, "-m", "tests.rig.slack_standin"], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert slack.stdout is not None
        slack_port = int(slack.stdout.readline())
        response_url = f"http://127.0.0.1:{slack_port}/response/bench"
        rig.start()
        rig.start_stack(free_port())
        with interpreter(production_venv(venv)):
            bot = BotProcess(
                redis_url=redis_url, prefix=prefix, slack_api_url=f"http://127.0.0.1:{slack_port}/api/",
                PROFBOT_SLACK_CHANNEL_RATE="100",  # the stand-in is not Slack: memory is measured, not pacing
            ).start()  # fmt: skip
            settings = rig.runner_env()
            runner = RunnerProcess(redis_url=redis_url, prefix=prefix, host_id="bench-host", settings=settings)
            runner.start()
        assert bot.proc is not None and runner.proc is not None
        pids = {"serve": bot.proc.pid, "runner": runner.proc.pid}
        before = settle(slack_port)
        rss = {"start": {k: rss_mb(p) for k, p in pids.items()}}
        started = time.monotonic()
        failed = asyncio.run(fire(bot.url, response_url, slack_port, before, 0, FIRST))
        posts = settle(slack_port)
        rss[str(FIRST)] = {k: rss_mb(p) for k, p in pids.items()}
        first_seconds = time.monotonic() - started
        failed += asyncio.run(fire(bot.url, response_url, slack_port, before, FIRST, TOTAL - FIRST))
        posts = settle(slack_port)
        rss[str(TOTAL)] = {k: rss_mb(p) for k, p in pids.items()}
        elapsed = time.monotonic() - started
    finally:
        for process in (runner, bot):
            if process is not None:
                process.stop()
        if (rig.dir / "storage.conf").exists():  # else podman in close() would use the machine's own storage
            rig.close()
        slack.kill()
        slack.wait()
        shutil.rmtree(venv, ignore_errors=True)
    print("## Memory of serve and runner")
    print(f"machine: {describe()}")
    print(f"{TOTAL} signed commands ({', '.join(COMMANDS)} in turn) from {CONCURRENCY} people who each wait for "
          f"their answer; a real runner on the podman rig; {posts} posts to the Slack stand-in; {failed} not "
          f"acknowledged with 200; serve and runner installed as deployed (no dev extras)")  # fmt: skip
    print(f"first {FIRST} in {first_seconds:.0f} s, all {TOTAL} in {elapsed:.0f} s")
    for when, figures in rss.items():
        print(f"RSS {'at start' if when == 'start' else f'after {when} commands'}: "
              f"serve {figures['serve']:.1f} MB, runner {figures['runner']:.1f} MB")  # fmt: skip
    load = f"{CONCURRENCY} people waiting for answers"
    answered = posts - before
    rows = [
        at_most(f"serve RSS after {FIRST:,} commands ({load})", rss[str(FIRST)]["serve"], SERVE_TARGET_MB, "MB"),
        at_most(f"runner RSS after {FIRST:,} commands ({load})", rss[str(FIRST)]["runner"], RUNNER_TARGET_MB, "MB"),
        # Small figures from dropped work would be no figures: every command acked and answered.
        Row(
            f"memory bench: {TOTAL:,} commands acked and answered",
            f"{TOTAL:,} and {TOTAL:,}",
            f"{TOTAL - failed:,} and {answered:,}",
            failed == 0 and answered >= TOTAL,
        ),
    ]
    for role in ("serve", "runner"):
        first, last = rss[str(FIRST)][role], rss[str(TOTAL)][role]
        growth = 100 * (last - first) / first
        print(f"{role}: {last - first:+.1f} MB ({growth:+.1f} %) from {FIRST:,} to {TOTAL:,} commands "
              f"(no growth: under +{GROWTH_TARGET_PERCENT} %)")  # fmt: skip
        rows.append(at_most(f"{role} RSS growth {FIRST:,} -> {TOTAL:,} commands", growth, GROWTH_TARGET_PERCENT, "%"))
    return rows


if __name__ == "__main__":
    main()
