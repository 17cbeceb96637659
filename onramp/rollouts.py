"""``onramp rollout ...``: rollouts over the rollout service's HTTP API, as readable tables.

The service decides everything (gates, approvals, conflicts); this module only sends the
request and shows the answer. Problem details (RFC 9457) become one ``error:`` line on stderr
and exit code 1; a refused advance also prints the gate report the service sent with the 409.
The standard library's HTTP client is enough here: no dependency beyond the project's own.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

DEFAULT_URL = "http://127.0.0.1:8002"

rollout_app = typer.Typer(
    help="Rollouts over the rollout service's HTTP API (ONRAMP_ROLLOUT_URL, ONRAMP_TOKEN)."
)

out = Console(highlight=False, markup=False, emoji=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, markup=False, emoji=False, soft_wrap=True)

Url = Annotated[
    str,
    typer.Option(
        "--url", envvar="ONRAMP_ROLLOUT_URL", help="Rollout service base URL.", show_envvar=True
    ),
]
Token = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="ONRAMP_TOKEN",
        help="Bearer token (onramp token --sub you --role admin).",
        show_envvar=True,
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the service's JSON as it is.")]
RolloutId = Annotated[str, typer.Argument(help="The rollout's id.")]
ExpectedStage = Annotated[
    int, typer.Option("--expected-stage", min=0, help="The stage being left (as `show` says).")
]


# --------------------------------------------------------------------------------- client


class ApiError(Exception):
    """A 4xx/5xx answer; ``problem`` is its body (RFC 9457 problem details when it is JSON)."""

    def __init__(self, status: int, problem: Mapping[str, Any]) -> None:
        self.status = status
        self.problem = problem
        super().__init__(one_line(status, problem))


class Unreachable(Exception):
    pass


def one_line(status: int, problem: Mapping[str, Any]) -> str:
    title = problem.get("title") or "error"
    detail = problem.get("detail")
    text = f"HTTP {status} {title}"
    if isinstance(detail, str) and detail:
        text += f": {detail}"
    errors = problem.get("errors")
    if isinstance(errors, list) and errors:
        parts = []
        for e in errors[:5]:
            if isinstance(e, dict):
                loc = ".".join(str(p) for p in e.get("loc", []) if p != "body")
                parts.append(f"{loc}: {e.get('msg')}" if loc else str(e.get("msg")))
        text += " (" + "; ".join(parts) + ")"
    if "rollout_status" in problem:
        text += (
            f" [rollout is {problem.get('rollout_status')}, "
            f"stage {_dash(problem.get('current_stage'))}]"
        )
    if status == 401:
        text += " — pass --token or set ONRAMP_TOKEN"
    return " ".join(text.split())


@dataclass(frozen=True)
class Client:
    base_url: str
    token: str | None
    timeout_s: float = 10.0

    def get(self, path: str, query: Mapping[str, Any] | None = None) -> Any:
        return self._request("GET", path, query=query)

    def post(self, path: str, body: Mapping[str, Any] | None = None) -> Any:
        return self._request("POST", path, body=body)

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
    ) -> Any:
        url = self.base_url.rstrip("/") + path
        if query:
            params = {k: v for k, v in query.items() if v is not None}
            url += "?" + urllib.parse.urlencode(params)
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise ApiError(exc.code, _problem(exc.code, exc.read())) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise Unreachable(f"cannot reach {self.base_url}: {reason}") from None
        return json.loads(raw) if raw else None


def _problem(status: int, raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if isinstance(body, dict):
        return body
    return {"status": status, "detail": raw.decode(errors="replace").strip()[:300]}


def _path(rollout_id: str, *rest: str) -> str:
    return "/".join(["/v1/rollouts", urllib.parse.quote(rollout_id, safe=""), *rest])


# -------------------------------------------------------------------------------- helpers


def _fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {escape(message)}", markup=True)
    raise typer.Exit(1)


def _client(url: str, token: str | None) -> Client:
    if not token:
        _fail("no token: pass --token or set ONRAMP_TOKEN (onramp token --sub you --role admin)")
    return Client(url, token)


def _call(client: Client, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
    try:
        return client.get(path) if method == "GET" else client.post(path, body)
    except ApiError as exc:
        if isinstance(exc.problem.get("gate"), dict):
            print_gate(exc.problem["gate"])
        _fail(str(exc))
    except Unreachable as exc:
        _fail(str(exc))


def _dash(value: Any) -> str:
    return "-" if value is None or value == "" else str(value)


def _number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.3g}"
    return str(int(value)) if isinstance(value, float) else str(value)


def _stage(rollout: Mapping[str, Any]) -> str:
    stage = rollout.get("stage")
    if stage is None:
        return "-"
    return f"{stage} {rollout.get('stage_name') or ''}".strip()


def _print_json(data: Any) -> None:
    out.print(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True))


def _render(data: Any, render: Callable[[Any], None], *, as_json: bool) -> None:
    if as_json:
        _print_json(data)
    else:
        render(data)


# ------------------------------------------------------------------------------ rendering


def rollouts_table(items: Sequence[Mapping[str, Any]]) -> Table:
    table = Table(title=f"{len(items)} rollout(s)", title_justify="left")
    for column in ("id", "name", "stage", "status", "gate"):
        table.add_column(column, overflow="fold")
    for r in items:
        status = r["status"] + (" (stalled)" if r.get("stalled") else "")
        table.add_row(r["rollout_id"], r["name"], _stage(r), status, _dash(r.get("gate_outcome")))
    return table


def _cohort(cohort: Mapping[str, Any]) -> str:
    parts = []
    if cohort.get("department_ids"):
        parts.append("departments " + ", ".join(cohort["department_ids"]))
    if cohort.get("staff_ids"):
        parts.append(f"{len(cohort['staff_ids'])} named staff")
    if cohort.get("percent") is not None:
        parts.append(f"{_number(cohort['percent'])}%")
    return "; ".join(parts) or "everyone"


def _state(rollout: Mapping[str, Any], index: int) -> str:
    status, stage = rollout["status"], rollout.get("stage")
    if status == "completed" or (stage is not None and index < stage):
        return "done"
    if stage is not None and index == stage:
        return "current" if status == "running" else f"current ({status})"
    return "planned" if stage is None else "next" if index == stage + 1 else "later"


def print_rollout(rollout: Mapping[str, Any]) -> None:
    out.print(f"{rollout['rollout_id']}: {rollout['name']}")
    out.print(f"  status: {rollout['status']}    stage: {_stage(rollout)}")
    out.print(f"  owner: {rollout['owner_id']}    system: {_dash(rollout.get('system'))}")
    out.print(f"  gate (last evaluated): {_dash(rollout.get('gate_outcome'))}")
    pause = rollout.get("pause")
    if pause:
        out.print(f"  paused ({pause['cause']}) by {pause['actor']}: {pause['reason']}")
    request = rollout.get("advance_request")
    if request:
        out.print(f"  advance requested by {request['requested_by']}, awaiting approvals")
    if rollout.get("stalled"):
        out.print(f"  stalled since {rollout.get('stalled_at')}")
    table = Table(title="stages", title_justify="left")
    for column in ("#", "name", "cohort", "mode", "approvals", "state"):
        table.add_column(column, overflow="fold")
    for index, stage in enumerate(rollout["plan"]["stages"]):
        approval = stage.get("approval") or {}
        table.add_row(
            str(index),
            stage["name"],
            _cohort(stage.get("cohort") or {}),
            stage.get("advance_mode", "manual"),
            f"{approval.get('required', 0)} when {approval.get('when', '-')}",
            _state(rollout, index),
        )
    out.print(table)


def print_gate(gate: Mapping[str, Any]) -> None:
    stage, next_stage = gate.get("stage"), gate.get("next_stage")
    leaving = "start gate" if stage is None else f"stage {stage}"
    to = "completion" if next_stage is None else f"stage {next_stage}"
    out.print(f"gate of {gate['rollout_id']}: {leaving} → {to}: {gate['outcome']}")
    advance = gate.get("advance") or {}
    out.print(f"  an advance now would: {advance.get('action')} ({advance.get('reason')})")
    table = Table(title="criteria", title_justify="left")
    for column in ("criterion", "outcome", "value", "threshold", "sample"):
        table.add_column(column, no_wrap=True)
    table.add_column("missing / detail", overflow="fold", ratio=1)
    for c in gate.get("criteria", []):
        missing = "; ".join(c.get("missing") or []) or c.get("detail") or ""
        table.add_row(
            c["name"],
            c["outcome"],
            _number(c.get("value")),
            _number(c.get("threshold")),
            _number(c.get("sample_size")),
            missing,
        )
    out.print(table)
    approvals = gate.get("approvals") or {}
    approved = [v["approver_id"] for v in approvals.get("approved", [])]
    rejected = [f"{v['approver_id']} ({v['comment']})" for v in approvals.get("rejected", [])]
    line = f"  approvals: {len(approved)} of {approvals.get('required', 0)} required"
    if approved:
        line += ": " + ", ".join(approved)
    out.print(line)
    if rejected:
        out.print("  rejected by " + ", ".join(rejected))
    for breach in gate.get("guardrails") or []:
        out.print(f"  guardrail breached: {breach['guardrail']}: {breach['reason']}")
    for missing in gate.get("missing") or []:
        out.print(f"  missing: {missing}")


def print_command(answer: Mapping[str, Any]) -> None:
    rollout = answer["rollout"]
    out.print(
        f"{answer['result']}: {rollout['rollout_id']} is {rollout['status']}, "
        f"stage {_stage(rollout)}"
    )
    if answer.get("result") == "awaiting_approval" and answer.get("gate"):
        print_gate(answer["gate"])


# ------------------------------------------------------------------------------- commands


class StatusFilter(StrEnum):
    planned = "planned"
    running = "running"
    paused = "paused"
    completed = "completed"


class Decision(StrEnum):
    approve = "approve"
    reject = "reject"


@rollout_app.command("list")
def list_rollouts(
    url: Url = DEFAULT_URL,
    token: Token = None,
    status: Annotated[StatusFilter | None, typer.Option(help="Only this status.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200, help="At most this many.")] = 50,
    as_json: AsJson = False,
) -> None:
    """Rollouts, newest first: id, name, stage, status and the last gate outcome."""
    client = _client(url, token)
    try:
        found = client.get("/v1/rollouts", {"status": status and status.value, "limit": limit})
    except (ApiError, Unreachable) as exc:
        _fail(str(exc))
    if as_json:
        _print_json(found)
        return
    out.print(rollouts_table(found["items"]))
    if found.get("next_offset") is not None:
        out.print(f"(more: at most {limit} shown)")


@rollout_app.command("show")
def show(
    rollout_id: RolloutId, url: Url = DEFAULT_URL, token: Token = None, as_json: AsJson = False
) -> None:
    """One rollout and its stages (cohort, advance mode, approvals, state)."""
    rollout = _call(_client(url, token), "GET", _path(rollout_id))
    _render(rollout, print_rollout, as_json=as_json)


@rollout_app.command("gate")
def gate(
    rollout_id: RolloutId, url: Url = DEFAULT_URL, token: Token = None, as_json: AsJson = False
) -> None:
    """The gate now: each criterion with value, threshold, sample size and what is missing."""
    report = _call(_client(url, token), "GET", _path(rollout_id, "gate"))
    _render(report, print_gate, as_json=as_json)


@rollout_app.command("advance")
def advance(
    rollout_id: RolloutId,
    expected_stage: ExpectedStage,
    override: Annotated[
        bool, typer.Option("--override", help="Advance whatever the gate says (needs --reason).")
    ] = False,
    reason: Annotated[
        str | None, typer.Option(help="Why the gate is overridden (10 characters or more).")
    ] = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Leave the current stage; a refusal prints the gate report and exits 1."""
    if reason and not override:
        _fail("--reason goes with --override")
    body: dict[str, Any] = {"expected_stage": expected_stage}
    if override:
        body |= {"override": True, "reason": reason}
    answer = _call(_client(url, token), "POST", _path(rollout_id, "advance"), body)
    _render(answer, print_command, as_json=as_json)


@rollout_app.command("approve")
def approve(
    rollout_id: RolloutId,
    expected_stage: ExpectedStage,
    decision: Annotated[Decision, typer.Option(help="approve or reject.")] = Decision.approve,
    comment: Annotated[str, typer.Option(help="Needed for a rejection.")] = "",
    url: Url = DEFAULT_URL,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Vote (as an approver) on leaving a stage."""
    body = {"expected_stage": expected_stage, "decision": decision.value, "comment": comment}
    answer = _call(_client(url, token), "POST", _path(rollout_id, "approvals"), body)
    _render(answer, print_command, as_json=as_json)


@rollout_app.command("pause")
def pause(
    rollout_id: RolloutId,
    reason: Annotated[str, typer.Option(help="Why (kept in the timeline).")],
    url: Url = DEFAULT_URL,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Pause a running rollout: no advances, automatic or manual, until resumed."""
    answer = _call(_client(url, token), "POST", _path(rollout_id, "pause"), {"reason": reason})
    _render(answer, print_command, as_json=as_json)


@rollout_app.command("resume")
def resume(
    rollout_id: RolloutId,
    reason: Annotated[str, typer.Option(help="Why (kept in the timeline).")] = "",
    url: Url = DEFAULT_URL,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Resume a paused rollout."""
    answer = _call(_client(url, token), "POST", _path(rollout_id, "resume"), {"reason": reason})
    _render(answer, print_command, as_json=as_json)
