"""The operation contract between the bot and the runners, by area.

- ``contract.py``    Operation[R], OpKind, the catalog; ChangeResult and TextOutput
- ``arguments.py``   what arguments may be: names and allowlists
- ``containers.py``  podman: inspect, logs, exec, top, stats, df, volumes; restart, stop, start
- ``pyroscope.py``   the Pyroscope server: ready, version, freshness, config, retention, image, purge
- ``compose.py``     the compose project: recreate, profiling env, image pins
- ``grafana.py``     Grafana's datasources and their provisioning
- ``blocks.py``      Pyroscope v1's blocks on disk (each block's meta.json)

Importing this package declares every operation on :data:`CATALOG`.
"""

from profbot.ops import blocks, compose, containers, grafana, pyroscope
from profbot.ops.contract import CATALOG, AnyOperation, ChangeResult, Operation, OperationCatalog, OpKind, OpResult

__all__ = [
    "CATALOG",
    "AnyOperation",
    "ChangeResult",
    "OpKind",
    "OpResult",
    "Operation",
    "OperationCatalog",
    "blocks",
    "compose",
    "containers",
    "grafana",
    "pyroscope",
]
