"""Operations that exist only in tests, on catalog and table instances of their own, to drive the
job bus through what real operations rarely do on demand: run slowly, hang, count their runs."""

from __future__ import annotations

import asyncio
from pathlib import Path

from profbot.ops import Operation, OperationCatalog, OpKind, OpResult
from runner.operations import HostContext, OperationTable

TEST_CATALOG = OperationCatalog()


class Done(OpResult):
    runs: int


@TEST_CATALOG.register("test.work", OpKind.READ, Done)
class Work(Operation):
    """Append a line to ``log`` when it starts, sleep ``seconds``, return how many lines there are."""

    log: str
    seconds: float = 0.0


@TEST_CATALOG.register("test.change", OpKind.CHANGE, Done)
class Change(Operation):
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
