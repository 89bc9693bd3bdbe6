"""profbot core: configuration, the job bus between bot and runners, and the operation contract.

The packages around it, by what they touch:

- ``bot/``      speaks Slack (slash commands, buttons, Block Kit) and never touches podman;
- ``runner/``   runs on each podman host and is the only code that touches podman and the host;
- ``handlers/`` is the runbook as code: procedures that ask runners for operations and turn the
  answers into findings.
"""

__version__ = "0.1.0"
