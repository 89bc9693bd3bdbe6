"""Alerts in: Alertmanager's and Grafana's webhooks, a front end of their own.

- ``intake.py``    ``POST /alerts/alertmanager`` and ``/alerts/grafana``: who may send, size, 401/400/413/503
- ``payloads.py``  the two payloads, parsed into the use cases' :class:`AlertNotification`
"""
