"""Operations that exist only in tests, on catalog and table instances of their own, to drive the
job bus through what real operations rarely do on demand: run slowly, hang, count their runs."""

from __future__ import annotations

import asyncio
from pathlib import Path

from profbot.ops.contract import Operation, OperationCatalog, OpKind, OpResult
from runner.host_policy import HostContext
from runner.operations import OperationTable

TEST_CATALOG = OperationCatalog()


class Done(OpResult):
    runs: int


@TEST_CATALOG.register("test.work", OpKind.READ, timeout=60)
class Work(Operation[Done]):
    """Append a line to ``log`` when it starts, sleep ``seconds``, return how many lines there are."""

    log: str
    seconds: float = 0.0


@TEST_CATALOG.register("test.change", OpKind.CHANGE, timeout=60)
class Change(Operation[Done]):
    log: str
    seconds: float = 0.0


TEST_TABLE = OperationTable(TEST_CATALOG)


def _record(log: str) -> int:
    path = Path(log)
    with path.open("a") as f:
        f.write("run\n")
    return len(path.read_text().splitlines())


@TEST_TABLE.implements(Work)
async def work(host: HostContext, op: Work) -> Done:
    runs = _record(op.log)
    await asyncio.sleep(op.seconds)
    return Done(runs=runs)


@TEST_TABLE.implements(Change)
async def change(host: HostContext, op: Change) -> Done:
    runs = _record(op.log)
    await asyncio.sleep(op.seconds)
    return Done(runs=runs)


TEST_TABLE.check_complete()
