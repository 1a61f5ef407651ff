"""Report layer: the pages the trader reads -- the daily execution report, the seed experiment, their index.

* ``daily`` -- every strategy replayed on a published day, the champion's record, data quality,
  models in use, tomorrow's stored schedule;
* ``experiment`` -- the seed's experiment (learning curves, the test day, the whole-year table);
* ``charts``, ``common``, ``index`` and ``templates/`` -- inline SVG charts, formats, the index page.

Pages are self-contained HTML (charts inline as SVG, no external resource), each with a JSON file of
the same numbers beside it. Reads only: it never trains, promotes or writes schedules. Knows
``trading``, ``models``, ``agents`` (names), ``sim`` and ``data``; independent of ``ops``.
"""

from execution import lazy_exports

_EXPORTS = {
    "render_daily_report": "daily",
    "daily_report_path": "daily",
    "render_experiment_report": "experiment",
    "SEED_TEST_DAY": "experiment",
    "write_index": "index",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
