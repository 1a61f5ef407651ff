"""Data layer: where the bars come from, whether they can be trusted, and where they are kept.

* ``sources/`` -- one module per bar source behind :class:`BarSource` (landing folder, Kite Connect,
  Yahoo Finance, the seeded synthetic generator);
* ``quality/`` -- Great Expectations validation of each staged (symbol, day);
* ``store`` -- PostgreSQL: staging (COPY), publishing, quarantine, published bars;
* ``ingest`` -- fetch -> stage -> validate -> publish or quarantine, and the operator's release;
* ``live`` -- today's bars that have closed so far (Kite, a landing folder, or a stored day replayed);
* ``ticks`` -- the NSE tick size as dated data; ``exchange_calendar`` -- trading days and session times.

Knows only ``config``, ``db`` and ``json_values`` below it.
"""

from execution import lazy_exports

_EXPORTS = {
    "ingest": "ingest",
    "fetch_and_stage": "ingest",
    "validate_staged": "ingest",
    "publish_validated": "ingest",
    "revalidate": "ingest",
    "release": "ingest",
    "IngestError": "ingest",
    "DaysQuarantined": "ingest",
    "load_published": "store",
    "published_days": "store",
    "active_quarantine": "store",
    "make_source": "sources",
    "live_bars": "live",
    "ReplayBars": "live",
    "SOURCE_NAMES": "sources",
    "BarSource": "sources.base",
    "FetchResult": "sources.base",
    "SourceError": "sources.base",
    "BAR_COLUMNS": "sources.base",
    "tick_size": "ticks",
    "EXCHANGE_TZ": "exchange_calendar",
    "BARS_PER_SESSION": "exchange_calendar",
    "is_trading_day": "exchange_calendar",
    "trading_days": "exchange_calendar",
    "next_trading_day": "exchange_calendar",
    "previous_trading_day": "exchange_calendar",
    "why_not_trading": "exchange_calendar",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
