"""Models layer: trained policies as a service keeps them -- registered, verified, chosen, promoted, retrained.

* ``registry`` -- the ``models`` table and its append-only ``model_events``; promote, roll back;
* ``artifacts`` -- artifact files, checksums, safe loading (also of artifacts saved before the Layout move);
* ``champion`` -- which policy serves a symbol, with the fallbacks (previous champion, then ``twap_seed``);
* ``strategies`` -- registered models as backtest strategies (``model:ID``, ``champion``);
* ``promotion`` -- the rule a challenger must pass; ``windows`` -- training and validation windows;
* ``retrain`` -- train, register, validate and promote one agent on one symbol (the weekly DAG's task).

Knows ``agents``, ``sim`` and ``data``.
"""

from execution import lazy_exports

_EXPORTS = {
    "ModelRecord": "registry",
    "ModelLoadError": "artifacts",
    "load_model": "artifacts",
    "PolicyChoice": "champion",
    "PolicyCache": "champion",
    "ChampionUnavailable": "champion",
    "resolve_champion": "champion",
    "registry_resolvers": "strategies",
    "resolve_strategy": "strategies",
    "evaluate": "promotion",
    "load_rule": "promotion",
    "rolling_windows": "windows",
    "resolve_windows": "windows",
    "validation_window": "windows",
    "window_health": "windows",
    "retrain": "retrain",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
