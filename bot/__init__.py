"""The Slack-facing service (``profbot serve``): where Slack is spoken.

- ``http.py``      the HTTP routes: Slack's signed requests and ``/healthz``
- ``app.py``       the slack-bolt AsyncApp and its listeners
- ``commands.py``  what each ``/prof`` subcommand does
- ``messages.py``  every text and Block Kit message a user sees
- ``tasks.py``     the background work started after an ``ack()``
"""
