"""Bar sources: one interface (:class:`execution.sources.base.BarSource`), one module per source."""

from __future__ import annotations

from pathlib import Path

from execution.config import Settings
from execution.sources.base import BarSource

SOURCE_NAMES = ("synthetic", "landing", "kite", "yfinance")


def make_source(name: str, settings: Settings, path: str | Path | None = None) -> BarSource:
    """The source called ``name``; ``path`` is the landing folder (default: the real samples)."""
    if name == "synthetic":
        from execution.sources.synthetic import SyntheticSource

        return SyntheticSource()
    if name == "landing":
        from execution.sources.landing import LandingSource

        return LandingSource(Path(path) if path else settings.samples_dir)
    if name == "kite":
        from execution.sources.kite import KiteSource

        return KiteSource()
    if name == "yfinance":
        from execution.sources.yahoo import YahooSource

        return YahooSource()
    # a ValueError, not a SourceError: a typo is not worth retrying
    raise ValueError(f"unknown source {name!r}; choose one of {', '.join(SOURCE_NAMES)}")
