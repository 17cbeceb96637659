"""Feedback rules: pure functions and values, no I/O, the clock passed in.

- ``submission``: what a valid piece of feedback is, on both intake paths;
- ``privacy``: staff ids, keyed pseudonyms and what anonymous feedback keeps;
- ``answers``: one survey answer per respondent and rollout, the newest counting;
- ``cases``: the issue lifecycle and its SLA timestamps;
- ``summary``: a rollout's feedback summary, with small groups hidden.
"""
