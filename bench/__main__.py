"""`make bench`: every benchmark, one after another."""

from bench import ack_latency, runner_ops

if __name__ == "__main__":
    ack_latency.main()
    print()
    runner_ops.main()
