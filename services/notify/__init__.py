"""The notify service: turns events into notifications and escalates what goes unanswered."""
