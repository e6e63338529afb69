"""The house style for charts: PNG at 100 dpi, direct labels, colours with at least 3:1 contrast.

Every chart carries alt text written by the caller from the data, so a reader who cannot see
the picture gets the same message.

Example::

    chart = time_chart(
        [Line("Hedensted", dates, values, highlight=True)],
        value_format=fmt.number, alt="Folketallet steg fra 47.609 til 48.167 ...",
    )
    chart.data_uri()   # 'data:image/png;base64,...'
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.dates import DateFormatter, YearLocator  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

# Contrast against white: HIGHLIGHT 9.4:1, COMPARISON 7.0:1, TARGET 5.3:1 (WCAG 1.4.11 asks 3:1).
HIGHLIGHT = "#1b4f72"
COMPARISON = "#595959"
TARGET = "#a04000"
BAND = "#dfe6ee"  # the group's middle half: a background area, its edges are not information
OTHER_BARS = "#8c8c8c"  # 3.4:1
DPI = 100
OPAQUE_WHITE = 0xFFFFFFFF  # a pixel of the figure's background, as four bytes read as one number
# Inches drawn around a figure (left, bottom, right, top) for what sticks out of it (see _render):
# most on the right, where the labels at the lines' ends are.
ROOM = (1.0, 0.5, 2.0, 0.5)
STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#595959",
    "axes.labelcolor": "#222222",
    "xtick.color": "#333333",
    "ytick.color": "#333333",
    "axes.grid": True,
    "axes.grid.axis": "y",
    "grid.color": "#e6e6e6",
    "figure.facecolor": "white",
    "svg.hashsalt": "workbook",
}


@dataclass(frozen=True)
class Chart:
    png: bytes
    alt: str
    caption: str = ""

    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


@dataclass(frozen=True)
class Line:
    label: str
    x: Sequence
    y: Sequence[float]
    highlight: bool = False


@dataclass(frozen=True)
class Band:
    label: str
    x: Sequence
    low: Sequence[float]
    high: Sequence[float]


@dataclass(frozen=True)
class TargetLine:
    label: str
    value: float


def _render(fig) -> bytes:
    """PNG bytes, reduced to a 64-colour palette: a third of the size, and the same for the same figure.

    The figure is drawn once, with room around it for what sticks out of it (a label at a line's
    end), and cropped to what it shows: its ink (every pixel that is not the white background)
    with `savefig.pad_inches` of white around it, the margin `savefig(bbox_inches="tight")` gives
    (tests/test_charts.py). Ink that reaches even the room's edge may go on beyond it; such a
    figure is saved with matplotlib's own tight box instead, which takes two more layouts."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    fig.set_dpi(DPI)  # a notebook's inline backend makes figures at 72 dpi
    width, height = fig.get_size_inches()
    left, bottom, right, top = ROOM
    for ax in fig.axes:  # the axes stay where they are on the page, the room in from its new edges
        box = ax.get_position()
        ax.set_position(
            [
                (box.x0 * width + left) / (width + left + right),
                (box.y0 * height + bottom) / (height + bottom + top),
                box.width * width / (width + left + right),
                box.height * height / (height + bottom + top),
            ]
        )
    fig.set_size_inches(width + left + right, height + bottom + top)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    pixels = rgba[:, :, :3]
    ink = rgba.view(np.uint32)[:, :, 0] != OPAQUE_WHITE  # one comparison a pixel (8 ms -> 0.1 ms a chart)
    rows, columns = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    tall, wide = ink.shape
    if rows.size and 0 < rows[0] and rows[-1] < tall - 1 and 0 < columns[0] and columns[-1] < wide - 1:
        pad = round(matplotlib.rcParams["savefig.pad_inches"] * DPI)
        shown = pixels[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]
        image = Image.fromarray(np.pad(shown, ((pad, pad), (pad, pad), (0, 0)), constant_values=255))
    else:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", pil_kwargs={"compress_level": 0})
        image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    plt.close(fig)
    small = io.BytesIO()
    image.quantize(colors=64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        small, format="PNG", compress_level=6
    )
    return small.getvalue()


def _then(caption: str, sentence: str) -> str:
    """A sentence after a caption, which is ended as a sentence first ("Folketal, Hedensted. Den ...")."""
    if not caption:
        return sentence
    return f"{caption}{'' if caption.endswith('.') else '.'} {sentence}"


def time_chart(
    lines: list[Line],
    value_format: Callable[[float], str],
    alt: str,
    caption: str = "",
    band: Band | None = None,
    target: TargetLine | None = None,
    invert_y: bool = False,
) -> Chart:
    """A line chart over dates, with labels at the line ends instead of a legend and years on the axis."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(7.2, 3.3))
        if band is not None:
            ax.fill_between(band.x, band.low, band.high, color=BAND, linewidth=0, zorder=1)
            caption = _then(caption, f"Det grå felt er {band.label}.") if caption else caption
        for line in lines:
            color = HIGHLIGHT if line.highlight else COMPARISON
            ax.plot(
                line.x,
                line.y,
                color=color,
                linewidth=2.6 if line.highlight else 1.8,
                linestyle="-" if line.highlight else (0, (4, 2)),
                marker="o" if len(line.x) < 20 else None,
                markersize=3.5,
                zorder=3 if line.highlight else 2,
            )
            ax.annotate(
                f"{line.label}: {value_format(line.y[-1])}",
                (line.x[-1], line.y[-1]),
                xytext=(6, 6 if line.highlight else -12),
                textcoords="offset points",
                fontsize=9.5,
                color=color,
                fontweight="bold" if line.highlight else "normal",
            )
        if target is not None:
            ax.axhline(target.value, color=TARGET, linewidth=1.6, linestyle=(0, (6, 3)), zorder=2)
            ax.annotate(
                target.label,
                (0.01, target.value),
                xycoords=("axes fraction", "data"),
                xytext=(0, 4),
                textcoords="offset points",
                fontsize=9,
                color=TARGET,
            )
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: value_format(v)))
        ax.yaxis.set_major_locator(MaxNLocator(5, steps=[1, 2, 5, 10]))
        first, last = min(line.x[0] for line in lines), max(line.x[-1] for line in lines)
        span = last.year - first.year
        ax.xaxis.set_major_locator(YearLocator(1 if span <= 8 else 2 if span <= 16 else 5))
        ax.xaxis.set_major_formatter(DateFormatter("%Y"))
        ax.margins(x=0.12)
        if invert_y:  # ranks: 1 is best and is drawn at the top
            ax.invert_yaxis()
        else:
            low = ax.get_ylim()[0]
            values = [v for line in lines for v in line.y if v == v]
            if values and min(values) > 0 and low > 0:  # a cut axis is said, so a small change is not read as a big one
                caption = _then(caption, f"Den lodrette akse starter ved {value_format(low)}, ikke ved 0.")
        return Chart(_render(fig), alt, caption)


def ranked_bars(
    values: dict[str, float],
    highlight: str,
    value_format: Callable[[float], str],
    alt: str,
    caption: str = "",
    target: TargetLine | None = None,
) -> Chart:
    """Horizontal bars, largest first (as the caption says), with the municipality in focus in the strong colour."""
    caption = f"{caption}, størst først" if caption else caption
    ordered = sorted(values.items(), key=lambda item: item[1], reverse=True)
    names = [name for name, _ in ordered]
    numbers = [value for _, value in ordered]
    with plt.rc_context({**STYLE, "axes.grid.axis": "x"}):
        fig, ax = plt.subplots(figsize=(7.2, 0.22 * len(ordered) + 0.9))
        colors = [HIGHLIGHT if name == highlight else OTHER_BARS for name in names]
        ax.barh(range(len(names)), numbers, color=colors, height=0.7, zorder=2)
        ax.set_yticks(range(len(names)), names, fontsize=8.5)
        for tick, name in zip(ax.get_yticklabels(), names):
            if name == highlight:
                tick.set_fontweight("bold")
        ax.invert_yaxis()
        index = names.index(highlight)
        ax.annotate(
            value_format(numbers[index]),
            (numbers[index], index),
            xytext=(-4, 0),
            textcoords="offset points",
            fontsize=9,
            color="white",
            fontweight="bold",
            ha="right",
            va="center",
        )
        if target is not None:
            ax.axvline(target.value, color=TARGET, linewidth=1.6, linestyle=(0, (6, 3)), zorder=3)
            ax.annotate(
                target.label,
                (target.value, -0.9),
                xytext=(4, 0),
                textcoords="offset points",
                fontsize=9,
                color=TARGET,
                annotation_clip=False,
            )
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: value_format(v)))
        left = min(0.0, min(numbers))
        ax.set_xlim(left, max(numbers + [target.value if target else 0]) * 1.12)
        return Chart(_render(fig), alt, caption)


def for_indicator(figures, scope) -> list[Chart]:
    """The charts of one indicator in a brief, drawn from its figures (see analysis.indicators.figures):

    - against the compared municipalities over time, with their middle half as a band, when
      the indicator is compared and has two or more figures;
    - ranked bars of the compared municipalities when it has one figure;
    - the municipality's own line otherwise (manual data, and a count such as the population,
      whose size says little next to other municipalities'), with the target's level.
    """
    from analysis.indicators import figures as numbers
    from analysis.report import fmt, narrative

    indicator = figures.indicator
    unit = indicator.unit
    series = figures.series.dropna(subset=["value"])
    if series.empty:
        return []
    goal = numbers.goal_level(figures)
    target = TargetLine(f"Mål: {fmt.with_unit(goal, unit)}", goal) if goal is not None else None
    name = narrative.short_name(scope)
    rows = figures.comparisons
    size_only = figures.stock and indicator.measure.kind in ("value", "sum") and figures.comparison_measure == "value"
    others = narrative.others_label(figures, scope)
    group_words = scope.region[0] if figures.compared_with == "region" else scope.group_name

    def show(value: float) -> str:
        return narrative._group_value(value, figures)

    if not rows.empty and len(rows) >= 2 and not size_only:
        x = _x(figures, rows.index)
        lines = [Line("Gns. andre", x, list(rows["mean_others"])), Line(name, x, list(rows["value"]), highlight=True)]
        definite = (
            f"de andre kommuner i {scope.region[0]}" if figures.compared_with == "region" else scope.group_definite
        )
        band = Band(f"den midterste halvdel af {definite}", x, list(rows["q25"]), list(rows["q75"]))
        per = " pr. 1.000 indbyggere" if figures.comparison_measure == "per_1000" else ""
        return [
            time_chart(
                lines,
                show,
                narrative.group_alt(figures, scope, rows, others),
                band=band,
                target=target if figures.comparison_measure == "value" else None,
                caption=f"{indicator.name}{per}, {scope.kommune_name} og {group_words}.",
            )
        ]
    if not rows.empty and len(rows) == 1 and not size_only:
        latest = figures.group.loc[figures.latest_date].dropna()
        values = {scope.name(code): float(v) for code, v in latest.items()}
        per = " pr. 1.000 indbyggere" if figures.comparison_measure == "per_1000" else ""
        period = narrative.when_label(figures, figures.latest_date, figures.latest["period"])
        return [
            ranked_bars(
                values,
                scope.name(scope.kommune),
                show,
                narrative.bars_alt(figures, scope, values, goal),
                caption=f"{indicator.name}{per}, {period}",
                target=target,
            )
        ]
    prefix = "Eksempeldata. " if figures.illustrative else ""
    line = Line(name, _x(figures, series.index), list(series["value"]), highlight=True)
    return [
        time_chart(
            [line],
            lambda v: fmt.with_unit(v, unit),
            narrative.line_alt(figures, scope),
            target=target,
            caption=f"{prefix}{indicator.name}, {scope.kommune_name}",
            invert_y=unit.best_first,
        )
    ]


def _x(figures, dates) -> list:
    """Where a figure sits on the time axis: its day for a stock, the start of its period otherwise."""
    if figures.stock:
        return list(dates)
    from analysis.periods import parse_period

    return [parse_period(figures.series.loc[d, "period"]).start_time for d in dates]
