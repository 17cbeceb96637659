"""A staff CSV file as the HR directory would publish it: ``staff.upserted.v1`` and
``department.upserted.v1`` events for ``onramp directory import``.

The file has a header row. Columns (only ``staff_id`` and ``name`` are required; an empty cell
means "not given"):

==================  ==========================================================================
staff_id            the person's id in the HR system (the Kafka key)
name                display name
email               for email notifications
department_id       the department the person belongs to
department_name     its display name (the same on every row of a department; default: its id)
department_head     ``true`` on the row of the department's head (at most one per department)
manager_id          staff id of the person's manager
roles               Onramp roles separated by ``;``, e.g. ``staff;it_support``
timezone            IANA time zone, e.g. ``Europe/Berlin`` (default UTC)
locale              BCP 47 tag, e.g. ``de-DE`` (default en)
active              ``true`` or ``false`` (default true); also yes/no, 1/0
==================  ==========================================================================

Every row is checked before anything is published; each problem names its line.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from uuid import uuid4

from pydantic import BaseModel, ValidationError

from shared.auth import ROLES
from shared.events import CloudEvent, KafkaRecord, new_event, to_record, topics
from shared.events.models import DepartmentUpserted, StaffUpserted

COLUMNS = (
    "staff_id",
    "name",
    "email",
    "department_id",
    "department_name",
    "department_head",
    "manager_id",
    "roles",
    "timezone",
    "locale",
    "active",
)
REQUIRED = ("staff_id", "name")
DEFAULT_SOURCE = "/onramp/cli/directory-import"
STAFF_TYPE = "onramp.staff.upserted.v1"
DEPARTMENT_TYPE = "onramp.department.upserted.v1"

_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}
M = TypeVar("M", bound=BaseModel)


class DirectoryFileError(ValueError):
    """The file cannot be imported; ``problems`` name a line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class Directory:
    """What a file says: departments first, then people, in file order."""

    departments: list[DepartmentUpserted] = field(default_factory=list)
    staff: list[StaffUpserted] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def records(self, *, source: str = DEFAULT_SOURCE) -> list[KafkaRecord]:
        """Binary-mode CloudEvents for ``onramp.directory``, keyed by department or staff id."""
        departments = [
            _record(DEPARTMENT_TYPE, d, source, f"department/{d.department_id}", d.department_id)
            for d in self.departments
        ]
        people = [
            _record(STAFF_TYPE, s, source, f"staff/{s.staff_id}", s.staff_id) for s in self.staff
        ]
        return departments + people


def read(path: Path) -> Directory:
    with path.open(newline="", encoding="utf-8-sig") as file:  # -sig: spreadsheets add a BOM
        return parse(file, name=path.name)


def parse(lines: Iterable[str], *, name: str = "<csv>") -> Directory:
    reader = csv.DictReader(lines, skipinitialspace=True)
    problems = _check_header(reader.fieldnames, name)
    if problems:
        raise DirectoryFileError(problems)
    found = Directory()
    seen: dict[str, int] = {}
    departments: dict[str, _Department] = {}
    for row in reader:
        line = reader.line_num
        where = f"{name}:{line}"
        cells = {k: (v or "").strip() for k, v in row.items() if k is not None}
        if None in row:
            problems.append(f"{where}: more cells than columns in the header")
            continue
        if not any(cells.values()):
            continue  # a blank line
        person = _person(cells, where, problems, found.warnings)
        if person is None:
            continue
        if person.staff_id in seen:
            problems.append(f"{where}: staff_id also on line {seen[person.staff_id]}")
            continue
        seen[person.staff_id] = line
        found.staff.append(person)
        if person.department_id:
            department = departments.setdefault(person.department_id, _Department())
            department.add(cells, person.staff_id, line, where, problems)
    for department_id, department in departments.items():
        model = _validated(
            DepartmentUpserted,
            {
                "department_id": department_id,
                "name": department.name or department_id,
                "head_staff_id": department.head,
            },
            f"{name}: department {department_id}",
            problems,
        )
        if model is not None:
            found.departments.append(model)
    if problems:
        raise DirectoryFileError(problems)
    return found


@dataclass
class _Department:
    name: str = ""
    head: str | None = None
    named_on: int = 0

    def add(
        self, cells: Mapping[str, str], staff_id: str, line: int, where: str, problems: list[str]
    ) -> None:
        name = cells.get("department_name", "")
        if name and self.name and name != self.name:
            problems.append(f"{where}: department_name differs from line {self.named_on}")
        elif name and not self.name:
            self.name, self.named_on = name, line
        if _flag(cells.get("department_head", ""), where, "department_head", problems):
            if self.head is not None:
                problems.append(f"{where}: the department already has a head ({self.head})")
            else:
                self.head = staff_id


def _check_header(fieldnames: Iterable[str] | None, name: str) -> list[str]:
    if not fieldnames:
        return [f"{name}:1: no header row (expected columns: {', '.join(COLUMNS)})"]
    given = [f.strip() for f in fieldnames]
    problems = [
        f"{name}:1: unknown column {column!r} (known: {', '.join(COLUMNS)})"
        for column in given
        if column not in COLUMNS
    ]
    problems += [
        f"{name}:1: missing column {column!r}" for column in REQUIRED if column not in given
    ]
    return problems


def _person(
    cells: Mapping[str, str], where: str, problems: list[str], warnings: list[str]
) -> StaffUpserted | None:
    roles = [r for r in re.split(r"[;\s]+", cells.get("roles", "")) if r]
    warnings += [
        f"{where}: role {role!r} is not one Onramp checks ({', '.join(ROLES)})"
        for role in roles
        if role not in ROLES
    ]
    values: dict[str, object] = {
        column: cells[column]
        for column in (
            "staff_id",
            "name",
            "email",
            "department_id",
            "manager_id",
            "timezone",
            "locale",
        )
        if cells.get(column)
    }
    values["roles"] = roles
    active = cells.get("active", "")
    if active:
        values["active"] = _flag(active, where, "active", problems)
    return _validated(StaffUpserted, values, where, problems)


def _flag(value: str, where: str, column: str, problems: list[str]) -> bool:
    if not value or value.lower() in _FALSE:
        return False
    if value.lower() in _TRUE:
        return True
    problems.append(f"{where}: {column}: expected true or false, got {value!r}")
    return False


def _validated(
    model: type[M], values: Mapping[str, object], where: str, problems: list[str]
) -> M | None:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            column = ".".join(map(str, error["loc"])) or "row"
            problems.append(f"{where}: {column}: {error['msg']}")
        return None


def _record(type_: str, data: BaseModel, source: str, subject: str, key: str) -> KafkaRecord:
    event: CloudEvent[BaseModel] = new_event(
        type_, source=source, subject=subject, data=data, id=str(uuid4())
    )
    return to_record(event, topic=topics.DIRECTORY, key=key)
