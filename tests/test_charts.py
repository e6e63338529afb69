"""Charts: the picture is the one `savefig(bbox_inches="tight")` gives, measured once."""

from __future__ import annotations

import io

import matplotlib
import pytest
from PIL import Image

from analysis.report import charts, fmt

from conftest import HEDENSTED, series_of, wide_of


def _tight(fig) -> bytes:
    """The reference: matplotlib's own tight crop, reduced to the same palette as a chart."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=charts.DPI, metadata={"Software": None}, bbox_inches="tight")
    image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    small = io.BytesIO()
    image.quantize(colors=64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        small, format="PNG", optimize=True
    )
    return small.getvalue()


@pytest.mark.parametrize("figure_dpi", [72, 100])  # a notebook's inline backend makes figures at 72 dpi
def test_a_chart_is_the_picture_savefig_tight_gives(indicator_table, areas, monkeypatch, figure_dpi):
    monkeypatch.setitem(matplotlib.rcParams, "figure.dpi", figure_dpi)
    pairs = []
    render = charts._render

    def both(fig):
        pairs.append((_tight(fig), render(fig)))
        return pairs[-1][1]

    monkeypatch.setattr(charts, "_render", both)
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
    for reference, chart in pairs:
        assert Image.open(io.BytesIO(chart)).size == Image.open(io.BytesIO(reference)).size
        assert chart == reference
