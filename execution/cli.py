"""``python -m execution``: the service's command line.

Each command is a module of :mod:`execution.commands` with ``add_parser(subparsers)`` that
registers it and sets ``func(args, settings) -> int``. Errors the user can act on (a bad file,
an unknown symbol, a database that is down) print one clear line and exit non-zero.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from execution.config import load_settings
from execution.data.files import WriteFailed
from execution.data.ingest import IngestError
from execution.data.sources.base import SourceError
from execution.db import DatabaseUnavailable

COMMANDS = (
    "ingest",
    "status",
    "runs",
    "validate",
    "quarantine",
    "backtest",
    "train",
    "models",
    "orders",
    "schedule",
    "execute",
    "report",
    "demo",
    "airflow_ui",
    "db",
)
EXIT_USER_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every command registered."""
    parser = argparse.ArgumentParser(prog="python -m execution", description=__doc__.splitlines()[0])
    parser.add_argument("--db-url", help="PostgreSQL URL (default: EXEC_DATABASE_URL, else embedded in EXEC_HOME/pg)")
    parser.add_argument("--home", help="data folder (default: EXEC_HOME, else ./.exec)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"execution.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"execution.commands.{name}":
                raise
            continue
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not args.verbose:
        logging.getLogger("great_expectations").setLevel(logging.WARNING)
    settings = load_settings()
    if args.home:
        import os
        from pathlib import Path

        os.environ["EXEC_HOME"] = str(Path(args.home).absolute())
        settings = load_settings()
    if args.db_url:
        settings = settings.with_overrides(database_url=args.db_url)
    try:
        return int(args.func(args, settings) or 0)
    except (DatabaseUnavailable, IngestError, SourceError, FileNotFoundError, ValueError, WriteFailed) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
