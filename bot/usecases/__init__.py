"""The application: what profbot does, whoever asks and through whichever front end.

- ``commands.py``    typed commands (who asked, where, what) and the grammar every front end parses with
- ``content.py``     what the use cases say: domain content a front end renders
- ``ports.py``       what they need: the People port, the stores, the bus (tests hand them fakes)
- ``app.py``         :class:`Profbot`: every use case built on the ports; what front ends call
- ``access.py``      who may do what: roles, gates, refusals
- ``reads.py``       help, the runbook's index, runners, health across hosts
- ``diagnose.py``    a procedure on the right host, its report posted with its remediations offered
- ``requests.py``    a remediation or ``restart`` becomes a change request; a destroy's typed name
- ``decisions.py``   confirm, cancel, approve, reject by the decision table; expiry
- ``execution.py``   the steps of a running request, once each, then its verification
- ``alerts.py``      an alert group becomes a thread, with its procedure's diagnosis
- ``audit.py``       the audit trail written, read and mirrored
- ``speech.py``      answering where asked, or privately when the place refuses the bot
- ``alert_model.py`` alerts, notifications and groups; ``settings.py`` the use cases' own settings

No module here imports a front end (Slack, aiohttp) or Redis: ``make check`` enforces it.
"""
