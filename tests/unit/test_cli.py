"""The ``onramp`` command without a broker: tokens, and files checked before anything is sent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from onramp import cli, directory, publishing
from shared.auth import ROLES, TokenVerifier
from shared.events import topics
from shared.settings import Settings

SECRET = "a-test-secret-of-at-least-thirty-two-bytes"
runner = CliRunner()

GOOD_CSV = """\
staff_id,name,email,department_id,department_name,department_head,manager_id,roles,active
ana,Ana Alves,ana@example.com,fin,Finance,true,,staff;approver,true
bo,Bo Berg,,fin,,,ana,staff,
cy,Cy Chen,cy@example.com,it,IT,,,"it_support staff",no
"""


def test_token_is_accepted_by_the_services_verifier() -> None:
    result = runner.invoke(
        cli.app,
        ["token", "--sub", "alice", "--role", "admin", "--role", "approver"],
        env={"ONRAMP_JWT_SECRET": SECRET},
    )
    assert result.exit_code == 0, result.output
    verifier = TokenVerifier(Settings(jwt_secret=SECRET))  # type: ignore[arg-type]
    principal = verifier.verify(result.stdout.strip())
    assert principal.sub == "alice"
    assert principal.roles == {"admin", "approver"}


def test_token_refuses_unknown_roles_and_a_missing_secret() -> None:
    unknown = runner.invoke(
        cli.app, ["token", "--sub", "a", "--role", "root"], env={"ONRAMP_JWT_SECRET": SECRET}
    )
    assert unknown.exit_code == 2
    no_secret = runner.invoke(
        cli.app, ["token", "--sub", "a", "--role", "staff"], env={"ONRAMP_JWT_SECRET": ""}
    )
    assert no_secret.exit_code == 1
    assert "ONRAMP_JWT_SECRET" in no_secret.stderr


def test_the_cli_roles_are_the_services_roles() -> None:
    assert [r.value for r in cli.Role] == list(ROLES)


def test_a_directory_file_becomes_departments_then_staff() -> None:
    found = directory.parse(GOOD_CSV.splitlines(keepends=True), name="staff.csv")
    assert [(d.department_id, d.name, d.head_staff_id) for d in found.departments] == [
        ("fin", "Finance", "ana"),
        ("it", "IT", None),
    ]
    ana, bo, cy = found.staff
    assert ana.roles == ["staff", "approver"]
    assert (bo.manager_id, bo.email, bo.active) == ("ana", None, True)
    assert (cy.roles, cy.active) == (["it_support", "staff"], False)
    records = found.records()
    assert [r.key for r in records] == [b"fin", b"it", b"ana", b"bo", b"cy"]
    assert {r.topic for r in records} == {topics.DIRECTORY}
    types = [dict(r.headers)["ce_type"] for r in records]
    assert types == [b"onramp.department.upserted.v1"] * 2 + [b"onramp.staff.upserted.v1"] * 3


def test_every_problem_names_its_line() -> None:
    text = (
        "staff_id,name,email,department_id,department_name,department_head,active\n"
        "ana,Ana,ana@example.com,fin,Finance,true,true\n"
        ",Nobody,,,,,\n"
        "ana,Ana Again,,,,,\n"
        "bo,Bo,,fin,Money,true,maybe\n"
        f"cy,{'C' * 300},,,,,\n"
    )
    with pytest.raises(directory.DirectoryFileError) as caught:
        directory.parse(text.splitlines(keepends=True), name="staff.csv")
    assert caught.value.problems == [
        "staff.csv:3: staff_id: Field required",
        "staff.csv:4: staff_id also on line 2",
        "staff.csv:5: active: expected true or false, got 'maybe'",
        "staff.csv:5: department_name differs from line 2",
        "staff.csv:5: the department already has a head (ana)",
        "staff.csv:6: name: String should have at most 200 characters",
    ]


def test_the_header_must_name_known_columns() -> None:
    with pytest.raises(directory.DirectoryFileError) as caught:
        directory.parse(["staff_id,full_name\n", "a,A\n"], name="hr.csv")
    assert caught.value.problems == [
        "hr.csv:1: unknown column 'full_name' (known: " + ", ".join(directory.COLUMNS) + ")",
        "hr.csv:1: missing column 'name'",
    ]


def test_unknown_roles_are_warned_about() -> None:
    found = directory.parse(["staff_id,name,roles\n", "a,A,staff;it-support\n"], name="x.csv")
    assert found.staff[0].roles == ["staff", "it-support"]
    assert found.warnings == [
        "x.csv:2: role 'it-support' is not one Onramp checks (admin, approver, it_support, staff)"
    ]


def test_import_dry_run_checks_and_publishes_nothing(tmp_path: Path) -> None:
    good = tmp_path / "staff.csv"
    good.write_text(GOOD_CSV)
    result = runner.invoke(cli.app, ["directory", "import", str(good), "--dry-run"], env={})
    assert result.exit_code == 0, result.output
    assert "2 departments and 3 staff" in result.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("staff_id,name\n,x\n")
    failed = runner.invoke(cli.app, ["directory", "import", str(bad)])
    assert failed.exit_code == 1
    assert "bad.csv:2: staff_id: Field required" in failed.stderr
    assert "nothing published" in failed.stderr


def _event(**data: object) -> dict[str, object]:
    return {
        "type": "onramp.feedback.submitted.v1",
        "source": "/survey-tool",
        "subject": "rollout/crm",
        "data": {
            "feedback_id": "f-1",
            "rollout_id": "crm",
            "kind": "survey",
            "csat": 4,
            "submitted_at": "2026-11-27T10:00:00Z",
        }
        | data,
    }


def test_survey_answers_go_to_the_intake_topic_keyed_by_rollout(tmp_path: Path) -> None:
    path = tmp_path / "answer.json"
    path.write_text(json.dumps(_event()))
    (event,) = publishing.read_events(path, max_bytes=1024 * 1024)
    assert event.specversion == "1.0"
    assert event.id  # filled in
    (record,) = publishing.to_records([event])
    assert (record.topic, record.key) == (topics.FEEDBACK_INTAKE, b"crm")
    assert dict(record.headers)["ce_source"] == b"/survey-tool"
    (canonical,) = publishing.to_records([event], topic=topics.FEEDBACK, key="other")
    assert (canonical.topic, canonical.key) == (topics.FEEDBACK, b"other")
    with pytest.raises(ValueError, match=r"onramp\.rollout does not carry"):
        publishing.to_records([event], topic=topics.ROLLOUT)


def test_publish_validates_every_event_first(tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    path.write_text(json.dumps([_event(), _event(csat=9), {**_event(), "type": "onramp.nope.v1"}]))
    result = runner.invoke(cli.app, ["publish", str(path)], env={})
    assert result.exit_code == 1
    assert "events.json: event 2: invalid_data: csat: less_than_equal" in result.stderr
    assert "events.json: event 3: unknown_type" in result.stderr
    assert "nothing published" in result.stderr
    not_json = tmp_path / "x.json"
    not_json.write_text("{")
    assert "x.json: not JSON" in runner.invoke(cli.app, ["publish", str(not_json)]).stderr


def test_commands_that_need_kafka_say_so(tmp_path: Path) -> None:
    result = runner.invoke(cli.app, ["dlt", "list"], env={"ONRAMP_KAFKA_BOOTSTRAP": ""})
    assert result.exit_code == 1
    assert "ONRAMP_KAFKA_BOOTSTRAP" in result.stderr
    both = runner.invoke(
        cli.app, ["dlt", "replay", "onramp.feedback", "--all", "--offset", "3"], env={}
    )
    assert both.exit_code == 1
    assert "either --offset N or --all" in both.stderr
