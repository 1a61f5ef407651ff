"""Landing folder of vendor exports: CSV or Parquet files, one or many per symbol.

An export is one delivery: every row of a symbol's files is read and staged, also the days
outside the requested window (nothing fetched is thrown away; each day is validated on its own).
The window only says which trading days must be there (a missing one is reported).

A file belongs to a symbol when its name starts with the symbol (``RELIANCE.csv``,
``RELIANCE_2021-07.parquet``, ``reliance-1m.csv.gz``) or when it has a symbol column holding it.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pandas as pd

from execution.data.sources.base import BarSource, DayProblem, FetchResult, SourceError
from execution.data.sources.contract import ContractError, normalise

SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")


def _read(path: Path) -> pd.DataFrame:
    name = path.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            return pd.read_parquet(path)
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError as exc:
        raise ContractError(f"{path}: empty file") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
        raise ContractError(f"{path}: cannot be read as {'Parquet' if 'parq' in name else 'CSV'}: {exc}") from exc


class LandingSource(BarSource):
    """Reads vendor exports dropped in a folder."""

    name = "landing"

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)

    def files_for(self, symbol: str) -> list[Path]:
        """The export files in the folder that belong to ``symbol``."""
        if not self.folder.exists():
            raise SourceError(f"landing folder {self.folder} does not exist")
        if not self.folder.is_dir():
            raise SourceError(f"landing path {self.folder} is not a folder")
        pattern = re.compile(rf"^{re.escape(symbol.lower())}([^a-z0-9].*)?$")
        return sorted(
            p
            for p in self.folder.iterdir()
            if p.is_file() and p.name.lower().endswith(SUFFIXES) and pattern.match(p.name.lower())
        )

    def fetch(self, symbol: str, start: date | None = None, end: date | None = None) -> FetchResult:
        """Every row of every file of ``symbol`` (the window is not a filter: see the module doc);
        a file that cannot be read fails its symbol, naming the file."""
        files = self.files_for(symbol)
        if not files:
            return FetchResult.empty([DayProblem(symbol, None, f"no export file for {symbol} in {self.folder}")])
        frames, problems = [], []
        for path in files:
            try:
                result = normalise(_read(path), source=self.name, origin=str(path), symbol=symbol, start=None, end=None)
            except ContractError as exc:
                problems.append(DayProblem(symbol, None, str(exc)))
                continue
            frames.append(result.bars)
            problems.extend(result.problems)
        if not frames:
            return FetchResult.empty(problems)
        bars = pd.concat(frames, ignore_index=True).sort_values("ts", kind="stable").reset_index(drop=True)
        return FetchResult(bars, problems)
