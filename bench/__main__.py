"""`make bench`: every benchmark, one after another, then one table of figure, target, measured
and verdict (bench/table.py)."""

from bench import ack_latency, alert_diagnosis, alert_intake, fleet_freshness, pictures, runner_ops
from bench.table import Row, render
from profbot import logs

if __name__ == "__main__":
    logs.configure("warning")  # the figures, not the bus's per-job log lines
    rows: list[Row] = []
    for module in (ack_latency, runner_ops, alert_intake, alert_diagnosis, pictures, fleet_freshness):
        rows += module.main() or []
        print()
    print("## Summary")
    print(render(rows))
