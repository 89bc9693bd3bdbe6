"""Where the terminal is: the shell front end (``profbot shell``), on the same use cases as Slack.

- ``service.py``   the composition: Redis, the bus, the stores, the use cases, one person
- ``session.py``   a line at a time: commands, numbered remediations, decisions by request id
- ``terminal.py``  prompt_toolkit at a terminal (editing, history, completion), plain lines otherwise
- ``people.py``    the People port at a terminal
- ``render.py``    plain text for every kind of content
"""
