"""Change requests and their approvals, as the bot and the runners both see them.

- ``model.py``  a change request: what runs where, on which target, in which state
- ``rules.py``  who may decide what, in which state: the decision table (pure)
- ``store.py``  requests in Redis: compare-and-set moves, the hourly budget, the runner's step check

::

    awaiting_confirmation --confirm--> running --> succeeded | failed | unknown
    awaiting_approval -----approve---> running
    awaiting_* --> expired | rejected | cancelled          (final: never revived)
"""
