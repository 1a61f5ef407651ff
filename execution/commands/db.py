"""``db``: the embedded database (URL, stop, migrate)."""

from __future__ import annotations

import argparse

from execution.config import Settings
from execution.db import apply_migrations, connect, database_url, stop_embedded


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``db url|migrate|stop``."""
    p = subparsers.add_parser("db", help="database: url, migrate, stop (the embedded server)")
    p.add_argument("action", choices=("url", "migrate", "stop"))
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Print the URL, apply migrations, or stop the embedded server."""
    if args.action == "url":
        print(database_url(settings))
    elif args.action == "migrate":
        conn = connect(settings, migrate=False)
        try:
            applied = apply_migrations(conn)
        finally:
            conn.close()
        print(f"applied: {', '.join(applied)}" if applied else "schema up to date")
    else:
        if settings.database_url:
            print("a configured database is not stopped by this command")
            return 1
        print("stopped" if stop_embedded(settings.pg_dir) else "not running")
    return 0
