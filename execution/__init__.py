"""NSE RL execution service: ingest, validate, simulate, train, schedule and report."""

__version__ = "0.1.0"
