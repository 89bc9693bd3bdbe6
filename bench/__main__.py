"""`make bench`: every benchmark, one after another."""

from bench import ack_latency, alert_intake, fleet_freshness, pictures, runner_ops
from profbot import logs

if __name__ == "__main__":
    logs.configure("warning")  # the figures, not the bus's per-job log lines
    ack_latency.main()
    print()
    runner_ops.main()
    print()
    alert_intake.main()
    print()
    pictures.main()
    print()
    fleet_freshness.main()
