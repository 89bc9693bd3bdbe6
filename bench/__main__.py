"""`make bench`: every benchmark, one after another."""

from bench import ack_latency

if __name__ == "__main__":
    ack_latency.main()
