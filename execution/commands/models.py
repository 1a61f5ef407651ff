"""``models``: the model registry -- list, show, promote, roll back, and the events behind them."""

from __future__ import annotations

import argparse
import json

from execution.config import Settings
from execution.db import connection
from execution.json_values import json_safe
from execution.models import registry
from execution.models.artifacts import ModelLoadError, verify_artifact

LIST_COLUMNS = ("id", "symbol", "agent", "status", "train window", "episodes", "reward/fill", "adv vs TWAP", "created")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``models`` and its subcommands."""
    p = subparsers.add_parser("models", help="the model registry: list, show, promote, rollback, events")
    sub = p.add_subparsers(dest="models_command", required=True, metavar="SUBCOMMAND")

    ls = sub.add_parser("list", help="registered models")
    ls.add_argument("--symbol", type=str.upper, help="only this symbol")
    ls.add_argument("--status", choices=registry.STATUSES, help="only models with this status")
    ls.add_argument("--json", action="store_true", help="full records as JSON")

    show = sub.add_parser("show", help="one model's full record (JSON)")
    show.add_argument("model_id", type=int, metavar="ID")

    promote = sub.add_parser("promote", help="make a model its symbol's champion (the current one is retired)")
    promote.add_argument("model_id", type=int, metavar="ID")
    promote.add_argument("--reason", default="manual promotion", help="why (recorded)")

    rollback = sub.add_parser("rollback", help="retire a symbol's champion and restore the one it replaced")
    rollback.add_argument("symbol", type=str.upper, metavar="SYMBOL")
    rollback.add_argument("--reason", default="manual rollback", help="why (recorded)")

    events = sub.add_parser("events", help="registry events: promotions, rollbacks, load failures, fallbacks")
    events.add_argument("--symbol", type=str.upper, help="only this symbol")
    events.add_argument("--model", type=int, dest="model_id", help="only this model")
    events.add_argument("--limit", type=int, default=50, help="newest N events (default 50)")
    events.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Dispatch to the subcommand."""
    return {"list": _list, "show": _show, "promote": _promote, "rollback": _rollback, "events": _events}[
        args.models_command
    ](args, settings)


def _advantage(record: registry.ModelRecord) -> str:
    vs_twap = (record.validation_metrics or {}).get("vs_twap_seed") or {}
    mean = vs_twap.get("mean_bps")
    return "-" if mean is None else f"{mean:+.2f} bps"


def _list(args: argparse.Namespace, settings: Settings) -> int:
    with connection(settings) as conn:
        records = registry.list_models(conn, args.symbol, args.status)
    if args.json:
        print(json.dumps([r.as_json() for r in records], indent=1, sort_keys=True))
        return 0
    if not records:
        print(
            "no registered model" + (f" for {args.symbol}" if args.symbol else "") + ": run `python -m execution train`"
        )
        return 0
    rows = [
        (
            str(r.model_id),
            r.symbol,
            r.agent,
            r.status,
            f"{r.train_start}..{r.train_end}",
            str(r.episodes),
            f"{r.reward}/{r.fill}",
            _advantage(r),
            r.created_at.strftime("%Y-%m-%d %H:%M"),
        )
        for r in records
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(LIST_COLUMNS)]
    print("  ".join(h.ljust(w) for h, w in zip(LIST_COLUMNS, widths, strict=True)))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    return 0


def _show(args: argparse.Namespace, settings: Settings) -> int:
    with connection(settings) as conn:
        record = registry.get(conn, args.model_id)
    print(json.dumps(record.as_json(), indent=1, sort_keys=True))
    return 0


def _promote(args: argparse.Namespace, settings: Settings) -> int:
    with connection(settings) as conn:
        record = registry.get(conn, args.model_id)
        verify_artifact(settings, record)  # never promote a model that cannot be loaded
        change = registry.promote(conn, record.model_id, args.reason, {"manual": True})
    retired = f"; model {change['retired']} retired" if change["retired"] is not None else ""
    print(f"model {change['promoted']} ({record.agent}) is now the champion of {record.symbol}{retired}")
    return 0


def _rollback(args: argparse.Namespace, settings: Settings) -> int:
    with connection(settings) as conn:
        change = registry.rollback(conn, args.symbol, args.reason)
        restored = None if change["restored"] is None else registry.get(conn, change["restored"])
        problem = None
        if restored is not None:
            try:
                verify_artifact(settings, restored)
            except ModelLoadError as exc:
                problem = str(exc)
    print(f"model {change['retired']} retired as champion of {args.symbol}")
    if restored is None:
        print(f"it replaced no earlier champion: {args.symbol} has no champion now (the service uses twap_seed)")
    else:
        print(f"model {restored.model_id} ({restored.agent}) restored as champion")
        if problem:
            print(f"warning: {problem}; the service falls back to its previous champion, else twap_seed")
    return 0


def _events(args: argparse.Namespace, settings: Settings) -> int:
    with connection(settings) as conn:
        rows = registry.events(conn, args.symbol, args.model_id, args.limit)
    if args.json:
        print(json.dumps([json_safe(r) for r in rows], indent=1, sort_keys=True))
        return 0
    for r in rows:
        model = "-" if r["model_id"] is None else str(r["model_id"])
        print(f"{r['created_at']:%Y-%m-%d %H:%M:%S}  {r['symbol']:<10} model {model:<5} {r['event']:<15} {r['reason']}")
    if not rows:
        print("no registry event")
    return 0
