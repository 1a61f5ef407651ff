"""Charts of the reports: matplotlib figures rendered to inline SVG text (no files, no external resources).

Every function returns the ``<svg ...>...</svg>`` markup of one chart, ready to be embedded in
an HTML page. Figures are built with :class:`matplotlib.figure.Figure` directly (no pyplot, no
global state), text stays text (``svg.fonttype = none``) and every chart has a title and
labelled axes with units. Each figure gets fresh random ids for its clip paths and markers,
so several charts can share one page.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

_RC = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica"],
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e3e6ea",
    "grid.linewidth": 0.6,
    "legend.frameon": False,
    "legend.fontsize": 8,
}

#: Fixed colours so that a strategy looks the same on every chart of every report.
STRATEGY_COLOURS = {
    "twap_seed": "#6b7280",
    "twap_even": "#0ea5e9",
    "vwap": "#14b8a6",
    "almgren_chriss": "#a855f7",
    "immediate": "#f59e0b",
    "oracle": "#9ca3af",
    "champion": "#dc2626",
}
_EXTRA_COLOURS = ["#dc2626", "#2563eb", "#16a34a", "#db2777", "#ea580c", "#7c3aed", "#0891b2", "#65a30d"]
_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*", "<", ">"]
FILL_COLOURS = {"seed": "#2563eb", "impact": "#ea580c"}
ANNOTATE_MAX_CELLS = 300  # matplotlib draws ~2 ms per text: larger tables go to an HTML table beside the chart
WIDTH_IN = 11.5  # the page's content width at 96 px per inch: charts are shown at their natural size


def strategy_colour(name: str, index: int = 0) -> str:
    """The colour of strategy ``name`` (models and unknown names cycle through a fixed list)."""
    return STRATEGY_COLOURS.get(name) or _EXTRA_COLOURS[index % len(_EXTRA_COLOURS)]


def _colours(names: Sequence[str]) -> dict[str, str]:
    extra = [n for n in names if n not in STRATEGY_COLOURS]
    return {n: strategy_colour(n, extra.index(n) if n in extra else 0) for n in names}


def _figure(width_in: float, height_in: float, nrows: int = 1, ncols: int = 1, **kwargs) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kwargs)
    return fig, axes


def to_svg(fig: Figure) -> str:
    """The figure as inline SVG markup (XML prolog, DOCTYPE and comments removed)."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    return text.strip()


def _render(build) -> str:
    with matplotlib.rc_context(_RC):
        fig = build()
        return to_svg(fig)


def _time_axis(ax, labels: Sequence[str]) -> None:
    """Label an x axis of integer positions with exchange-time strings."""

    def fmt(value: float, _pos: int) -> str:
        index = round(value)
        return labels[index] if 0 <= index < len(labels) else ""

    ax.xaxis.set_major_locator(MaxNLocator(nbins=10, integer=True))
    ax.xaxis.set_major_formatter(FuncFormatter(fmt))
    ax.set_xlabel("Exchange time (IST)")


def price_with_fills(
    time_labels: Sequence[str],
    close: np.ndarray,
    arrival_price: float,
    fills: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    title: str,
    horizon: tuple[int, int] | None = None,
) -> str:
    """Close of every minute with each strategy's fills marked (marker area ~ shares).

    ``fills[name] = (positions, prices INR, shares)`` with positions indexing ``time_labels``;
    ``horizon`` shades the order's window (first decision .. forced order).
    """

    def build() -> Figure:
        fig, axes = _figure(WIDTH_IN, 4.2)
        ax = axes[0, 0]
        x = np.arange(len(close))
        ax.plot(x, close, color="#111827", linewidth=1.2, label="close (1-min bars)", zorder=2)
        arrival_label = f"arrival ₹{arrival_price:,.2f}"
        ax.axhline(arrival_price, color="#6b7280", linestyle="--", linewidth=0.9, label=arrival_label)
        if horizon:
            ax.axvspan(horizon[0], horizon[1], color="#f3f4f6", zorder=0, label="order horizon")
        colours = _colours(list(fills))
        max_qty = max((float(np.max(q)) for _, _, q in fills.values() if len(q)), default=1.0) or 1.0
        for i, (name, (pos, price, qty)) in enumerate(fills.items()):
            if not len(pos):
                continue
            ax.scatter(
                pos,
                price,
                s=14 + 110 * np.sqrt(np.asarray(qty, dtype=float) / max_qty),
                marker=_MARKERS[i % len(_MARKERS)],
                color=colours[name],
                alpha=0.75,
                edgecolors="white",
                linewidths=0.4,
                label=f"{name} fills",
                zorder=3,
            )
        _time_axis(ax, time_labels)
        ax.set_ylabel("Price (INR)")
        ax.set_title(title)
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), markerscale=0.7)
        return fig

    return _render(build)


def inventory_over_time(
    time_labels: Sequence[str], inventory: Mapping[str, np.ndarray], title: str, unit: str = "shares"
) -> str:
    """Inventory left after each minute, one step line per strategy (``inventory[name]`` per position)."""

    def build() -> Figure:
        fig, axes = _figure(WIDTH_IN, 3.6)
        ax = axes[0, 0]
        colours = _colours(list(inventory))
        for name, left in inventory.items():
            width = 2.2 if name in ("champion",) or name.startswith("model:") else 1.3
            ax.step(np.arange(len(left)), left, where="post", color=colours[name], linewidth=width, label=name)
        _time_axis(ax, time_labels)
        ax.set_ylabel(f"Inventory left ({unit})")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:,.0f}"))
        ax.set_ylim(bottom=0)
        ax.set_title(title)
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
        return fig

    return _render(build)


def advantage_bars(names: Sequence[str], advantage_bps: Mapping[str, Sequence[float]], title: str) -> str:
    """Horizontal bars: each strategy's advantage over ``twap_seed`` in bps, one bar per fill model."""

    def build() -> Figure:
        fig, axes = _figure(WIDTH_IN, 1.0 + 0.34 * len(names))
        ax = axes[0, 0]
        y = np.arange(len(names))
        height = 0.8 / max(len(advantage_bps), 1)
        for i, (fill, values) in enumerate(advantage_bps.items()):
            values = np.asarray(values, dtype=float)
            bars = ax.barh(
                y + (i - (len(advantage_bps) - 1) / 2) * height,
                values,
                height=height,
                color=FILL_COLOURS.get(fill, _EXTRA_COLOURS[i]),
                label=f"{fill} fill",
            )
            ax.bar_label(bars, labels=[f"{v:+.1f}" for v in values], padding=3, fontsize=7)
        ax.axvline(0, color="#111827", linewidth=0.8)
        ax.set_yticks(y, labels=list(names))
        ax.invert_yaxis()
        ax.set_xlabel("Advantage over twap_seed (bps, + = better than TWAP)")
        ax.set_title(title)
        ax.margins(x=0.12)
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
        return fig

    return _render(build)


def cumulative_advantage(
    days: Sequence[str],
    series_bps: Mapping[str, np.ndarray],
    title: str,
    daily_bars: str | None = None,
    colours: Mapping[str, str] | None = None,
) -> str:
    """Cumulative advantage over TWAP per day, one line per series; ``daily_bars`` names a series also drawn as bars.

    ``series_bps[label]`` holds one advantage (bps) per trading day of ``days``; ``colours`` overrides
    the strategy colours by label.
    """

    def build() -> Figure:
        fig, axes = _figure(WIDTH_IN, 3.8)
        ax = axes[0, 0]
        x = np.arange(len(days))
        if daily_bars is not None:
            daily = np.asarray(series_bps[daily_bars], dtype=float)
            ax.bar(x, daily, color=np.where(daily >= 0, "#86efac", "#fca5a5"), label=f"daily: {daily_bars}", width=0.8)
        line_colours = {**_colours(list(series_bps)), **(colours or {})}
        for i, (label, values) in enumerate(series_bps.items()):
            colour = line_colours[label]
            ax.plot(
                x,
                np.cumsum(np.asarray(values, dtype=float)),
                color=colour,
                marker=_MARKERS[i % len(_MARKERS)] if len(x) < 40 else None,
                markersize=3,
                linewidth=1.6,
                label=f"cumulative: {label}",
            )
        ax.axhline(0, color="#111827", linewidth=0.8)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: days[round(v)] if 0 <= round(v) < len(days) else ""))
        ax.set_xlabel("Trading day")
        ax.set_ylabel("Advantage over twap_seed (bps)")
        ax.set_title(title)
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
        return fig

    return _render(build)


def planned_schedule(time_labels: Sequence[str], lots: Mapping[str, np.ndarray], primary: str, title: str) -> str:
    """Two panels: the primary plan's lots per interval (bars, TWAP as outline) and every plan's cumulative share done.

    ``lots[name]`` has one value per interval, the forced order at the horizon last.
    """

    def build() -> Figure:
        fig, axes = _figure(WIDTH_IN, 5.2, nrows=2, sharex=True, height_ratios=[1.1, 1])
        top, bottom = axes[0, 0], axes[1, 0]
        x = np.arange(len(time_labels))
        colours = _colours(list(lots))
        top.bar(x, lots[primary], color=colours[primary], width=0.8, label=f"{primary} (planned)")
        if "twap_seed" in lots and primary != "twap_seed":
            top.step(x, lots["twap_seed"], where="mid", color="#374151", linewidth=1.0, label="twap_seed")
        top.set_ylabel("Lots per interval")
        top.yaxis.set_major_locator(MaxNLocator(integer=True))
        top.set_title(title)
        top.legend(loc="upper right")
        for name, values in lots.items():
            values = np.asarray(values, dtype=float)
            done = 100.0 * np.cumsum(values) / max(values.sum(), 1.0)
            width = 2.4 if name == primary else 1.2
            bottom.step(x, done, where="post", color=colours[name], linewidth=width, label=name)
        bottom.set_ylabel("Executed (% of order)")
        bottom.set_ylim(0, 105)
        bottom.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
        _time_axis(bottom, time_labels)
        return fig

    return _render(build)


def decision_heatmap(lots: np.ndarray, inventory_lots: Sequence[int], time_left_min: Sequence[int], title: str) -> str:
    """The policy's decision table: lots sent (colour and number) by inventory left (rows) x time left (columns)."""

    def build() -> Figure:
        n_rows, n_cols = lots.shape
        fig, axes = _figure(WIDTH_IN, 1.3 + 0.16 * n_rows)
        ax = axes[0, 0]
        ax.grid(False)
        mesh = ax.imshow(lots, aspect="auto", cmap="YlOrRd", vmin=0, vmax=max(int(lots.max()), 1))
        if n_rows * n_cols <= ANNOTATE_MAX_CELLS:
            for (r, c), value in np.ndenumerate(lots):
                if value:
                    label = ax.text(c, r, str(int(value)), ha="center", va="center", fontsize=5.5, color="#111827")
                    label.set_in_layout(False)  # 1000 labels inside the axes: keep them out of the layout pass
        ax.set_yticks(np.arange(n_rows), labels=[str(v) for v in inventory_lots], fontsize=7)
        step = max(1, n_cols // 12)
        ax.set_xticks(np.arange(0, n_cols, step), labels=[str(time_left_min[i]) for i in range(0, n_cols, step)])
        ax.set_xlabel("Time left (minutes)")
        ax.set_ylabel("Inventory left (lots)")
        ax.set_title(title)
        fig.colorbar(mesh, ax=ax, label="Lots sent now", shrink=0.9)
        return fig

    return _render(build)


def learning_curves(curves: Mapping[str, np.ndarray], title: str, ylabel: str, window: int = 20) -> str:
    """One line per agent: the per-episode value smoothed with a trailing mean (faint: raw values).

    The window is ``window`` episodes, shortened for short curves (a tenth of the longest, at least 1).
    """

    def build() -> Figure:
        fig, axes = _figure(WIDTH_IN, 3.6)
        ax = axes[0, 0]
        colours = _colours(list(curves))
        longest = max((len(v) for v in curves.values()), default=0)
        w = max(1, min(window, longest // 10))
        for name, values in curves.items():
            values = np.asarray(values, dtype=float)
            if not len(values):
                continue
            n = min(w, len(values))
            smooth = np.convolve(values, np.ones(n) / n, mode="valid")
            episodes = np.arange(n, len(values) + 1)
            ax.plot(np.arange(1, len(values) + 1), values, color=colours[name], alpha=0.25, linewidth=0.6)
            ax.plot(episodes, smooth, color=colours[name], linewidth=1.8, label=f"{name} ({len(values)} episodes)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("Training episode")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{title} (trailing mean of {w} episode{'s' if w > 1 else ''}; faint: each episode)")
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
        return fig

    return _render(build)


def cell_colours(values: np.ndarray, vmax: float | None = None, cmap: str = "YlOrRd") -> list[list[tuple[str, str]]]:
    """``(background, text colour)`` hex pairs per cell: an HTML heat table coloured like :func:`decision_heatmap`."""
    values = np.asarray(values, dtype=float)
    top = max(float(vmax if vmax is not None else values.max(initial=0.0)), 1.0)
    colour_map = matplotlib.colormaps[cmap]
    out = []
    for row in values:
        cells = []
        for value in row:
            r, g, b, _ = colour_map(value / top)
            luminance = 0.299 * r + 0.587 * g + 0.114 * b
            cells.append((matplotlib.colors.to_hex((r, g, b)), "#111827" if luminance > 0.55 else "#ffffff"))
        out.append(cells)
    return out
