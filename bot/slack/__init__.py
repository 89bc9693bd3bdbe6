"""Where Slack is spoken: the Slack front end.

- ``http.py``        ``POST /slack/events``: signature and body checks as middleware, then bolt
- ``app.py``         the slack-bolt AsyncApp
- ``middleware.py``  who asked, where and what (parsed once); who may do it
- ``listeners.py``   the slash command, the buttons, the destroy modal: small listeners
- ``action_ids.py``  action ids, button values and modal metadata (opaque references)
- ``render/``        Block Kit for every kind of content, by feature
- ``people.py``      the People port in Slack; Slack's error codes mapped at this one seam
- ``directory.py``   user groups' members, for roles
- ``auth.py``        the workspace's identity, warmed before the first request
- ``pacing.py``      writes per channel per second

It parses, renders and registers; every decision is a use case's (bot/usecases/).
"""
