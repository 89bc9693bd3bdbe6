"""The bot: ``profbot serve``. It never touches podman; runners do (runner/).

- ``usecases/``  the application: diagnose, request, decide, execute and verify changes, alert
                 threads, health and runners, the audit. Typed commands in, domain content out,
                 through ports; no front end in it.
- ``slack/``     where Slack is spoken: bolt listeners, Block Kit, the People port over the Web API
- ``webhooks/``  alerts in: Alertmanager's and Grafana's webhooks
- ``stores/``    the bot's Redis stores behind the ports (alert ledger and inbox, offers, audit feed)
- ``service.py`` the composition root: settings, Redis, Slack, use cases, the HTTP server
"""
