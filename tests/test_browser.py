"""Every brief of a run in a real browser: headless Chromium driven by Playwright, scanned with axe-core.

Chromium comes from Debian's package (`make test` installs it where it can); Playwright drives
it with executable_path, so no browser is downloaded. Screenshots go to tests/output/screenshots/.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import sync_playwright

from conftest import workbook

pytestmark = pytest.mark.e2e  # real runs in processes: `make test-fast` leaves them out

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
SCREENSHOTS = Path(__file__).parent / "output" / "screenshots"
MAX_BYTES = 200_000


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("headless Chromium is missing: apt-get install chromium (make test does it when run as root)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


def all_briefs(quarterly: Path, annual: Path, illustrative: Path) -> list[tuple[str, Path]]:
    runs = {"kvartal": quarterly / "766/2025K1/kvartal", "aar": annual, "eksempeldata": illustrative}
    return [
        (f"{label}-{path.stem}", path)
        for label, folder in runs.items()
        for path in sorted((folder / "briefs").glob("*.html"))
    ]


def test_every_brief_renders_cleanly_and_accessibly(browser, quarterly, annual, illustrative):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    briefs = all_briefs(quarterly, annual, illustrative)
    assert len(briefs) == 4 + 9 + 3
    axe = Axe()
    problems = []
    for name, path in briefs:
        page = browser.new_page(viewport={"width": 900, "height": 1200})
        requests, errors = [], []
        page.on(
            "request",
            lambda request, seen=requests: (
                seen.append(request.url) if not request.url.startswith(("file:", "data:")) else None
            ),
        )
        page.on("console", lambda message, seen=errors: seen.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error, seen=errors: seen.append(str(error)))
        page.goto(path.as_uri(), wait_until="load")
        assert page.evaluate("document.documentElement.lang") == "da", name
        broken = page.evaluate("Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).length")
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
        assert not errors, (name, errors)
        assert not requests, (name, requests)
        assert broken == 0, name
        violations = axe.run(page).response["violations"]
        serious = [
            (v["id"], v["impact"], len(v["nodes"])) for v in violations if v["impact"] in ("serious", "critical")
        ]
        if serious:
            problems.append((name, serious))
        page.close()
        assert path.stat().st_size < MAX_BYTES, (name, path.stat().st_size)
    assert problems == []
    assert all((SCREENSHOTS / f"{name}.png").stat().st_size > 10_000 for name, _path in briefs)


def test_the_scan_does_catch_problems(browser, tmp_path):
    """The accessibility scan is not vacuous: an image without alt text and grey-on-grey text are caught."""
    page_path = tmp_path / "bad.html"
    page_path.write_text(
        '<html><body><img src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAAD'
        'UlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="><p style="color:#aaa;background:#bbb">tekst</p>'
        "</body></html>",
        encoding="utf-8",
    )
    page = browser.new_page()
    page.goto(page_path.as_uri())
    found = {v["id"] for v in Axe().run(page).response["violations"] if v["impact"] in ("serious", "critical")}
    assert {"image-alt", "color-contrast", "html-has-lang"} <= found


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str = "#ffffff") -> float:
    lighter, darker = sorted([_luminance(foreground), _luminance(background)], reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_chart_colours_meet_wcag_graphics_contrast():
    from analysis.report import charts

    for colour in (charts.HIGHLIGHT, charts.COMPARISON, charts.TARGET, charts.OTHER_BARS):
        assert contrast(colour) >= 3.0, colour  # WCAG 1.4.11: 3:1 for graphics
    assert contrast("#ffffff", charts.HIGHLIGHT) >= 4.5  # the white value label on the highlighted bar


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_the_first_screen_answers_how_we_are_doing(browser, quarterly, width, height):
    """On a desktop and on a phone, the overview's first screen shows every indicator with figures
    and its status in words; no status wraps onto more than two lines; nothing counts '0 indikatorer'."""
    from bs4 import BeautifulSoup

    path = quarterly / "766/2025K1/kvartal/briefs/overview.html"
    with_figures = [
        row.th.get_text(" ", strip=True)
        for row in BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser").select(
            "section.indicator-table tbody tr"
        )
    ]
    assert len(with_figures) == 4
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(path.as_uri(), wait_until="load")
    items = page.eval_on_selector_all(
        "section.summary li", "els => els.map(e => [e.innerText, e.getBoundingClientRect().bottom])"
    )
    assert [text.split(":")[0].split(" ", 3)[-1] for text, _bottom in items] != []
    for name in with_figures:
        shown = [bottom for text, bottom in items if name in text]
        assert shown and shown[0] <= height, (name, width)
    for text, _bottom in items:
        assert text.startswith(("✔ På rette vej", "? Usikkert", "✘ Ikke på rette vej", "– Intet mål")), text
    heights = page.eval_on_selector_all(
        "td.status-cell .status",
        "els => els.map(e => e.getBoundingClientRect().height / parseFloat(getComputedStyle(e).lineHeight))",
    )
    assert heights and max(heights) <= 2, heights
    assert "0 indikatorer" not in page.inner_text("body")
    page.close()


def test_every_brief_prints_as_a_pdf_for_the_agenda(annual):
    """The PDF beside each brief: A4 pages, the brief's title and 48.167 as text, page numbers and
    the header on every page, and a first page that is not blank."""
    import pypdfium2 as pdfium

    for html in sorted((annual / "briefs").glob("*.html")):
        pdf = pdfium.PdfDocument(html.with_suffix(".pdf"))
        assert 1 <= len(pdf) <= 12, (html.name, len(pdf))
        width, height = pdf[0].get_size()
        assert (round(width), round(height)) == (595, 842)  # A4 in points
        first = pdf[0].get_textpage().get_text_range()
        assert "48.167" in first and "Hedensted Kommune" in first, html.name
        last = pdf[len(pdf) - 1].get_textpage().get_text_range()
        assert f"Side {len(pdf)} af {len(pdf)}" in last and "Årlig opfølgning · 2024" in last
        image = pdf[0].render(scale=0.5).to_pil().convert("L")
        dark = int((np.asarray(image) < 200).sum())
        assert dark > 2000, (html.name, "the first page is blank")
    growth = pdfium.PdfDocument(annual / "briefs/growth.pdf")
    assert "Vækst i balance" in growth[0].get_textpage().get_text_range()


def test_weasyprint_takes_every_option_the_pdf_is_written_with(annual, caplog):
    """WeasyPrint logs an option it does not know as an error and goes on without it (nothing shows
    the error: its logger has only a null handler). A brief's PDF is written without one."""
    import logging

    from analysis.report.render import write_pdf

    with caplog.at_level(logging.ERROR, logger="weasyprint"):
        pdf = write_pdf((annual / "briefs/growth.html").read_text(encoding="utf-8"), None)
    assert pdf.startswith(b"%PDF-")
    assert [record.getMessage() for record in caplog.records if record.name == "weasyprint"] == []


def test_the_archive_page_links_every_published_run(tmp_path):
    """After two runs of different periods, outputs/index.html links to both runs' briefs, PDFs and
    numbers with relative links that all resolve; `python -m analysis index` rebuilds it."""

    from bs4 import BeautifulSoup

    for period in ("2024K4", "2025K1"):
        done = workbook(
            "run", "--cadence", "kvartal", "--period", period, "--only", "growth,overview", "--outputs", str(tmp_path)
        )
        assert done.returncode == 0, done.stderr
    index = tmp_path / "index.html"
    soup = BeautifulSoup(index.read_text(encoding="utf-8"), "html.parser")
    assert soup.html["lang"] == "da"
    links = [a["href"] for a in soup.find_all("a")]
    assert all(not link.startswith(("/", "http")) for link in links)
    for link in links:
        assert (tmp_path / link).is_file(), link
    assert {
        "766/2024K4/kvartal/briefs/growth.html",
        "766/2025K1/kvartal/briefs/growth.html",
        "766/2025K1/kvartal/briefs/overview.pdf",
        "766/2025K1/kvartal/tal-766.xlsx",
    } <= set(links)
    rows = [row.get_text(" ", strip=True) for row in soup.select("tbody tr")]
    assert rows[0].startswith(
        "1. kvt. 2025 Kvartalsopfølgning marts 2025 ✔ 2 på rette vej ? 1 usikre ✘ 1 ikke på rette vej"
    )
    index.unlink()
    rebuilt = workbook("index", "--outputs", str(tmp_path))
    assert rebuilt.returncode == 0 and index.is_file()
