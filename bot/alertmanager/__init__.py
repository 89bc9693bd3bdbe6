"""Alertmanager's API v2, as profbot's :class:`~bot.usecases.ports.Silencer` (client.py)."""
