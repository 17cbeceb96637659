"""Why a command did not happen. Routes turn these into problem details (404, 403, 409)."""

from __future__ import annotations

from services.rollout.handlers.views import GateView


class CommandError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(CommandError):
    pass


class Forbidden(CommandError):
    pass


class Conflict(CommandError):
    """The rollout's state does not allow it (or the caller's expected stage is stale)."""

    def __init__(self, message: str, *, current_stage: int | None = None, status: str = "") -> None:
        super().__init__(message)
        self.current_stage = current_stage
        self.status = status


class Refused(CommandError):
    """The gate says no: carries the full report."""

    def __init__(self, view: GateView) -> None:
        super().__init__(f"the gate refuses: {view.verdict.reason}")
        self.view = view
