"""Structured logging: one JSON object per line, stable dotted event names.

Onramp's own lines go from structlog straight to stderr: through the standard library's logging
machinery (records, handlers, a formatter) a line costs about three times as much, a few per
cent of a busy service's CPU (docs/performance.md). Libraries log through the standard library;
their records get the same shape from structlog's ``ProcessorFormatter``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

import structlog
from pydantic_core import to_json

Logger = structlog.typing.FilteringBoundLogger


class _LineWriter(structlog.WriteLogger):
    """structlog's writer to stderr, with the name that ``add_logger_name`` reads."""

    def __init__(self, name: str) -> None:
        super().__init__(sys.stderr)
        self.name = name


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    """Both routes to one renderer and one level.

    Called again after faust starts, because faust sets the root logger to DEBUG, which costs
    about a tenth of a core in formatting alone.
    """
    level_number = logging.getLevelNamesMapping()[level.upper()]
    stamped: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(serializer=_json_line)
        if json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*stamped, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level_number),
        logger_factory=_LineWriter,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=stamped,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level_number)
    # faust logs through the module of each service class, ours included (shared.streams).
    for noisy in ("aiokafka", "faust", "mode", "shared.streams", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def _json_line(event: dict[str, object], default: Callable[[object], object]) -> str:
    """pydantic's JSON serializer, about four times as fast as ``json.dumps`` for a log line;
    ``default`` renders what it does not know (structlog's fallback: ``repr``)."""
    return to_json(event, fallback=default).decode()


def get_logger(name: str) -> Logger:
    """A logger whose lines carry ``"logger": name``; configured when it first logs."""
    logger: Logger = structlog.get_logger(name)
    return logger
