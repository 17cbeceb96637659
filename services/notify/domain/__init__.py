"""The notify service's rules: pure functions and values, no I/O, no async, the clock a parameter.

- ``notifications``: what a notification is (a draft for one recipient) and its priorities.
- ``rules``: which events notify whom (rollout, gate, feedback).
- ``escalation``: policies, levels, conditions, repeat, and the case life cycle.
- ``targets``: escalation targets and how they resolve to people.
- ``preferences``: channels, quiet hours and the daily digest, across time zones and DST.
- ``reminders``: the training reminder ladder and the managers' digest.
- ``delivery``: retry policy and sharding of external deliveries.
- ``webhooks``: the chat providers' message formats and request signing.
- ``locale``: choosing a template language for a recipient's locale.
"""
