"""The ``onramp`` command: development tokens, directory imports, events from files,
dead-letter inspection and replay, and rollouts over HTTP (``onramp.rollouts``).

Kafka and the JWT secret come from the same ``ONRAMP_*`` settings as the services (TLS and
SASL/SCRAM included); the command never starts a broker of its own.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from aiokafka.errors import KafkaError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from onramp import deadletters, directory, publishing
from onramp.rollouts import rollout_app
from shared.auth import issue_dev_token
from shared.events import DLT_TOPICS, KafkaRecord
from shared.settings import Settings

T = TypeVar("T")

app = typer.Typer(
    name="onramp",
    help="Onramp from the command line. Settings come from ONRAMP_* variables.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
directory_app = typer.Typer(help="The staff directory, as the HR system publishes it.")
dlt_app = typer.Typer(help="Dead-letter topics: inspect records consumers parked, replay them.")
app.add_typer(directory_app, name="directory", no_args_is_help=True)
app.add_typer(dlt_app, name="dlt", no_args_is_help=True)
app.add_typer(rollout_app, name="rollout", no_args_is_help=True)

out = Console(highlight=False, markup=False, emoji=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, markup=False, emoji=False)

Bootstrap = Annotated[
    str | None,
    typer.Option(
        "--bootstrap",
        envvar="ONRAMP_KAFKA_BOOTSTRAP",
        help="Kafka bootstrap servers.",
        show_envvar=True,
    ),
]


@app.callback()
def main_options(ctx: typer.Context, bootstrap: Bootstrap = None) -> None:
    ctx.obj = bootstrap


def _settings(ctx: typer.Context) -> Settings:
    settings = Settings()
    if ctx.obj:
        settings = settings.model_copy(update={"kafka_bootstrap": ctx.obj})
    if not settings.kafka_bootstrap:
        _fail("no Kafka: set ONRAMP_KAFKA_BOOTSTRAP or pass --bootstrap")
    return settings


def _fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {escape(message)}", markup=True)
    raise typer.Exit(1)


def _run(work: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(work)
    except (KafkaError, OSError) as exc:
        _fail(f"Kafka: {exc!r}")
    except deadletters.DeadLetterError as exc:
        _fail(str(exc))


# ---------------------------------------------------------------------------------- token


class Role(StrEnum):
    """The roles of shared.auth.ROLES (a test keeps them equal)."""

    admin = "admin"
    approver = "approver"
    it_support = "it_support"
    staff = "staff"


@app.command()
def token(
    sub: Annotated[str, typer.Option(help="Staff id the token speaks for.")],
    role: Annotated[list[Role], typer.Option(help="A role; repeat for several.")],
    ttl_hours: Annotated[float, typer.Option(min=0.01, help="Lifetime in hours.")] = 12,
) -> None:
    """Print a development token (HS256, signed with ONRAMP_JWT_SECRET)."""
    secret = Settings().jwt_secret
    if secret is None or not secret.get_secret_value():
        _fail("ONRAMP_JWT_SECRET is not set (make run prints the one it uses)")
    roles = list(dict.fromkeys(r.value for r in role))
    typer.echo(issue_dev_token(secret.get_secret_value(), sub, roles, int(ttl_hours * 3600)))


# ------------------------------------------------------------------------------ directory


@directory_app.command("import")
def directory_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV with a header.")],
    source: Annotated[str, typer.Option(help="CloudEvents source.")] = directory.DEFAULT_SOURCE,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check the file, publish nothing.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Publish staff.upserted and department.upserted events for every row of a CSV file.

    Columns: staff_id, name (required), email, department_id, department_name,
    department_head, manager_id, roles (separated by ;), timezone, locale, active.
    """
    try:
        found = directory.read(file)
    except directory.DirectoryFileError as exc:
        _problems(exc.problems, file)
    for warning in found.warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}", markup=True)
    summary = f"{len(found.departments)} departments and {len(found.staff)} staff"
    if dry_run:
        out.print(f"{file.name} is valid: {summary}; nothing published (--dry-run)")
        return
    records = found.records(source=source)
    _send(_settings(ctx), records, "importing", quiet=quiet)
    out.print(f"published {summary} to onramp.directory")


def _problems(problems: Sequence[str], file: Path) -> NoReturn:
    for problem in problems[:50]:
        err.print(problem)
    if len(problems) > 50:
        err.print(f"... and {len(problems) - 50} more")
    _fail(f"{file.name}: {len(problems)} problem(s); nothing published")


def _send(settings: Settings, records: Sequence[KafkaRecord], what: str, *, quiet: bool) -> None:
    progress = Progress(
        TextColumn(what),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=quiet or len(records) < 100,
    )
    with progress:
        task = progress.add_task(what, total=len(records))
        _run(publishing.send(settings, records, on_sent=lambda n: progress.advance(task, n)))


# -------------------------------------------------------------------------------- publish


@app.command()
def publish(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CloudEvent JSON.")],
    topic: Annotated[str | None, typer.Option(help="Another topic that carries the type.")] = None,
    key: Annotated[str | None, typer.Option(help="Kafka key (default: the aggregate id).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate only.")] = False,
) -> None:
    """Publish the CloudEvent(s) of a JSON file (structured mode) into their topic.

    The file holds one event or an array; id, time and specversion may be left out.
    """
    settings = Settings()
    try:
        events = publishing.read_events(file, max_bytes=settings.max_record_bytes)
        records = publishing.to_records(events, topic=topic, key=key)
    except publishing.EventFileError as exc:
        _problems(exc.problems, file)
    except ValueError as exc:
        _fail(str(exc))
    if not dry_run:
        _send(_settings(ctx), records, "publishing", quiet=False)
    verb = "valid, not published (--dry-run)" if dry_run else "published"
    for event, record in zip(events, records, strict=True):
        key_text = (record.key or b"").decode()
        out.print(f"{verb}: {event.type} id={event.id} → {record.topic} key={key_text}")


# ------------------------------------------------------------------------------------ dlt


@dlt_app.command("list")
def dlt_list(
    ctx: typer.Context,
    topic: Annotated[
        str | None, typer.Argument(help="A topic or its .dlt (default: every dead-letter topic).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Show dead letters with the reasons their consumers gave."""
    settings = _settings(ctx)
    names = [deadletters.dlt_topic(topic)] if topic else list(DLT_TOPICS)
    letters: list[deadletters.DeadLetter] = []
    for name in names:
        try:
            letters += asyncio.run(deadletters.read(settings, name))
        except deadletters.DeadLetterError as exc:
            if topic:
                _fail(str(exc))
            err.print(f"skipped: {exc}")
        except (KafkaError, OSError) as exc:
            _fail(f"Kafka: {exc!r}")
    if as_json:
        for letter in letters:
            out.print(json.dumps(_as_dict(letter), ensure_ascii=False))
        return
    if not letters:
        out.print(f"no dead letters in {', '.join(names)}")
        return
    for table in _tables(letters):
        out.print(table)


def _as_dict(letter: deadletters.DeadLetter) -> dict[str, Any]:
    return {
        "dlt": letter.ref,
        "key": letter.key.decode(errors="replace") if letter.key is not None else None,
        "type": letter.header("ce_type"),
        "id": letter.header("ce_id"),
        "reasons": letter.reasons,
    }


def _tables(letters: Sequence[deadletters.DeadLetter]) -> list[Table]:
    """One table per dead-letter topic, oldest first per partition."""
    by_topic: dict[str, list[deadletters.DeadLetter]] = {}
    for letter in letters:
        by_topic.setdefault(letter.topic, []).append(letter)
    return [_table(topic, found) for topic, found in by_topic.items()]


def _table(topic: str, letters: Sequence[deadletters.DeadLetter]) -> Table:
    table = Table(title=f"{topic}: {len(letters)} dead letter(s)", title_justify="left")
    for column in ("at", "from", "consumer", "kind", "tries", "time (UTC)", "type / key"):
        table.add_column(column, no_wrap=column in ("at", "from", "kind", "tries"), overflow="fold")
    table.add_column("message", overflow="fold", ratio=1)
    for letter in letters:
        r = letter.reasons
        key = letter.key.decode(errors="replace") if letter.key is not None else "-"
        table.add_row(
            f"p{letter.partition}@{letter.offset}",
            f"p{r.get('partition', '?')}@{r.get('offset', '?')}",
            r.get("consumer", "?"),
            r.get("kind", "?"),
            r.get("attempts", "?"),
            r.get("time", "?")[:19].replace("T", " "),
            f"{letter.header('ce_type') or '-'}\n{key}",
            r.get("message", ""),
        )
    return table


@dlt_app.command("replay")
def dlt_replay(
    ctx: typer.Context,
    topic: Annotated[str, typer.Argument(help="A topic or its .dlt.")],
    offset: Annotated[int | None, typer.Option(min=0, help="The dead letter's offset.")] = None,
    partition: Annotated[
        int | None, typer.Option(min=0, help="Its partition (needed when there are several).")
    ] = None,
    replay_all: Annotated[bool, typer.Option("--all", help="Every dead letter.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be replayed.")
    ] = False,
) -> None:
    """Send dead letters back to their original topic, after the cause was fixed."""
    if (offset is None) == (not replay_all):
        _fail("give either --offset N or --all")
    settings = _settings(ctx)
    name = deadletters.dlt_topic(topic)
    if replay_all:
        letters = deadletters.unique_originals(_run(deadletters.read(settings, name)))
    else:
        letters = [_one(settings, name, partition, offset)]
    records = [letter.replay_record() for letter in letters]
    if not dry_run and records:
        _send(settings, records, "replaying", quiet=False)
    verb = "would replay" if dry_run else "replayed"
    for letter, record in zip(letters, records, strict=True):
        out.print(f"{verb} {letter.ref} → {record.topic} ({letter.reasons.get('kind', '?')})")
    if not letters:
        out.print(f"no dead letters in {name}")


def _one(
    settings: Settings, name: str, partition: int | None, offset: int | None
) -> deadletters.DeadLetter:
    if partition is None:
        if _run(deadletters.partition_count(settings, name)) > 1:
            _fail(f"{name} has several partitions: name one with --partition")
        partition = 0
    found = _run(deadletters.read(settings, name, partition=partition, offset=offset))
    match = [letter for letter in found if letter.offset == offset]
    if not match:
        _fail(f"no dead letter at {name} partition {partition} offset {offset}")
    return match[0]


def main() -> None:
    app()


if __name__ == "__main__":
    main()
