"""Charts: the picture is the one `savefig(bbox_inches="tight")` gives, from one drawing of the figure."""

from __future__ import annotations

import io

import matplotlib
import matplotlib.figure
import numpy as np
import pytest
from PIL import Image

from analysis.report import charts, fmt

from conftest import HEDENSTED, series_of, wide_of


def _tight(fig) -> np.ndarray:
    """The reference: matplotlib's own tight crop, reduced to the same palette as a chart, as pixels."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=charts.DPI, bbox_inches="tight")
    image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    return _pixels(image.quantize(colors=64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE))


def _inked(pixels: np.ndarray) -> np.ndarray:
    """The part of a picture that is not white background."""
    ink = (pixels != 255).any(axis=2)
    rows, columns = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return pixels[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]


def _pixels(image) -> np.ndarray:
    if isinstance(image, bytes):
        image = Image.open(io.BytesIO(image))
    return np.asarray(image.convert("RGB"))


def _with_references(monkeypatch) -> list[tuple[np.ndarray, bytes, bool]]:
    """Each chart made from now on, as (matplotlib's tight crop of its figure, the chart, whether
    the chart was saved with savefig: the way for a figure whose ink goes beyond the room)."""
    made = []
    render, savefig = charts._render, matplotlib.figure.Figure.savefig
    saved = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda *a, **k: (saved.append(1), savefig(*a, **k))[1])

    def both(fig):
        reference = _tight(fig)
        before = len(saved)
        made.append((reference, render(fig), len(saved) > before))
        return made[-1][1]

    monkeypatch.setattr(charts, "_render", both)
    return made


@pytest.mark.parametrize("figure_dpi", [72, 100])  # a notebook's inline backend makes figures at 72 dpi
def test_a_chart_is_the_picture_savefig_tight_gives(indicator_table, areas, monkeypatch, figure_dpi):
    monkeypatch.setitem(matplotlib.rcParams, "figure.dpi", figure_dpi)
    pairs = _with_references(monkeypatch)
    population = series_of(indicator_table, "population")
    chart = charts.time_chart(
        [charts.Line("Hedensted", list(population.index), list(population["value"]), highlight=True)],
        value_format=fmt.number,
        alt="Folketallet",
        caption="Folketal, Hedensted",
        target=charts.TargetLine("Mål: 50.000", 50000),
    )
    # the caption says the axis is cut, as a sentence of its own
    assert chart.caption.startswith("Folketal, Hedensted. Den lodrette akse starter ved ")
    growth = wide_of(indicator_table, "population_growth").iloc[-1].dropna()
    growth = growth[growth.index.isin(set(areas.municipalities["code"]))]  # not the country, regions, Christiansø
    charts.ranked_bars(
        {code: float(value) for code, value in growth.items()},
        HEDENSTED,
        value_format=lambda v: fmt.percent(v, 2),
        alt="Befolkningsvækst",
        target=charts.TargetLine("Mål", 0.5),
    )
    assert len(pairs) == 2 and len(growth) == 98
    pad = round(matplotlib.rcParams["savefig.pad_inches"] * charts.DPI)
    for reference, chart, saved in pairs:
        assert not saved  # drawn once
        # Nothing cut and nothing added: the same ink, and the margin of white around it that
        # savefig gives. The ink may sit a fraction of a pixel off from where savefig's crop puts
        # it, so that its edges are drawn a little differently.
        chart = _pixels(chart)
        shown, expected = _inked(chart), _inked(reference)
        assert shown.shape == expected.shape
        assert np.abs(shown.astype(int) - expected).mean() < 3
        assert chart.shape[:2] == (shown.shape[0] + 2 * pad, shown.shape[1] + 2 * pad)


def test_a_label_beyond_the_figure_is_kept(monkeypatch):
    """Ink at the figure's edge may go on beyond it: matplotlib's tight box then decides the crop,
    and the label outside the figure is in the picture."""
    pairs = _with_references(monkeypatch)
    charts.ranked_bars(
        {"Hedensted": 0.9, "Horsens": 1.4},
        "Hedensted",
        value_format=lambda v: fmt.percent(v, 1),
        alt="Befolkningsvækst",
        target=charts.TargetLine("Mål: et mål med en meget lang tekst, der går ud over figurens kant", 1.5),
    )
    ((reference, chart, saved),) = pairs
    assert saved
    width = round(7.2 * charts.DPI)  # the figure's own width
    assert _pixels(chart).shape == reference.shape and reference.shape[1] > width
    assert (_pixels(chart) == reference).all()
