"""Bar sources: one interface (:class:`execution.data.sources.base.BarSource`), one module per source."""

from __future__ import annotations

from pathlib import Path

from execution.config import Settings
from execution.data.sources.base import BarSource

__all__ = ["SOURCE_NAMES", "BarSource", "make_source"]

SOURCE_NAMES = ("synthetic", "landing", "kite", "yfinance")


def make_source(name: str, settings: Settings, path: str | Path | None = None) -> BarSource:
    """The source called ``name``; ``path`` is the landing folder (default: the real samples).

    The synthetic source gets the planted component of ``settings.synthetic`` (none by default).
    """
    if name == "synthetic":
        from execution.data.sources.synthetic import SyntheticSource

        planted = settings.synthetic
        return SyntheticSource(
            planted_strength=planted.planted_strength, planted_half_life_min=planted.planted_half_life_min
        )
    if name == "landing":
        from execution.data.sources.landing import LandingSource

        return LandingSource(Path(path) if path else settings.samples_dir)
    if name == "kite":
        from execution.data.sources.kite import KiteSource

        return KiteSource()
    if name == "yfinance":
        from execution.data.sources.yahoo import YahooSource

        return YahooSource()
    # a ValueError, not a SourceError: a typo is not worth retrying
    raise ValueError(f"unknown source {name!r}; choose one of {', '.join(SOURCE_NAMES)}")
