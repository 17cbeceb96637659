"""Notify use cases. Each takes the process's :class:`~services.notify.settings.Deps` and the
caller's connection; the edge (consumer wrapper, scheduler, request) owns the transaction.

- ``directory``, ``feedback``, ``rollout``: what each consumed event does;
- ``fanout``: drafts → inbox notifications → external deliveries;
- ``delivery``: the delivery and digest timers (the only code that talks to SMTP and webhooks);
- ``cases``: escalation cases (open, page) and their timer; ``case_status``: acknowledge, close;
- ``stall``: the stall clock of a rollout's current stage and its timer;
- ``reminders``: the training reminder ladder and its timer;
- ``commands``: what the API's commands do;
- ``events``: the ``notification.*`` and ``escalation.*`` events we publish.
"""
