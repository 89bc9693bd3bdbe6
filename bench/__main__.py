"""`make bench`: every benchmark, one after another, then one table of figure, target, measured
and verdict (bench/table.py)."""

from bench import (
    ack_latency,
    alert_diagnosis,
    alert_intake,
    fleet_freshness,
    fleet_runners,
    large_alert_group,
    memory,
    pictures,
    runner_ops,
    storage_history,
)
from bench.table import Row, render
from profbot import logs

if __name__ == "__main__":
    logs.configure("warning")  # the figures, not the bus's per-job log lines
    rows: list[Row] = []
    modules = (ack_latency, alert_intake, large_alert_group, alert_diagnosis, runner_ops, fleet_freshness,
               fleet_runners, memory, pictures, storage_history)  # fmt: skip
    for module in modules:
        rows += module.main()
        print()
    print("## Summary")
    print(render(rows))
