"""Implementations of the operations declared in :mod:`profbot.ops`, one function each, by area:

- ``containers.py``         podman's view: state, health, volumes, stats; restart, stop, start
- ``inside_containers.py``  logs, files, env, processes and probes inside managed containers
- ``reach.py``              can a container reach a service by name: podman's network records, no exec
- ``pyroscope.py``          the Pyroscope server: ready, version, freshness, config; image pull
- ``blocks.py``             Pyroscope v1's blocks, from each block's meta.json in the data volume
- ``files.py``              compose and config files: recreate, profiling env, image pins, retention
- ``grafana.py``            Grafana's datasources and their provisioning
- ``destroy.py``            deleting Pyroscope's data volume

What a runner may touch is its host policy (runner/host_policy.py). Every text an operation returns
passes through runner/redaction.py; every change names what it did, step by step.
"""

from runner.operations import blocks, containers, destroy, files, grafana, inside_containers, pyroscope, reach
from runner.operations.table import IMPLEMENTATIONS, OperationTable

# A runner lacking an implementation of any declared operation does not start.
IMPLEMENTATIONS.check_complete()

__all__ = [
    "IMPLEMENTATIONS",
    "OperationTable",
    "blocks",
    "containers",
    "destroy",
    "files",
    "grafana",
    "inside_containers",
    "pyroscope",
    "reach",
]
