"""The archive page: outputs/index.html lists every published run (municipality, period,
cadence, the data's latest month, how the statuses stand) with links to its briefs, their PDFs
and the Excel file of its numbers. Links are relative, so the outputs folder can be put on a
file share or any static web server and browsed. Each run rebuilds it; so does
`python -m analysis index`.

Example::

    build_index(Path("outputs"))   # outputs/index.html
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from analysis.periods import CADENCE_LABELS, code_label

INDEX = "index.html"
STATUS_CLASSES = {"status-on": "på rette vej", "status-uncertain": "usikkert", "status-off": "ikke på rette vej"}


@dataclass
class Published:
    kommune: str
    name: str
    period: str
    period_label: str
    cadence: str
    cadence_label: str
    data_until: str
    folder: str  # relative to outputs/
    briefs: list[tuple[str, str, str]] = field(default_factory=list)  # (title, html, pdf)
    numbers: str = ""
    statuses: dict[str, int] = field(default_factory=dict)


def published_runs(outputs_dir: Path) -> list[Published]:
    """Every published run under outputs/<kommunekode>/<period>/<cadence>, newest period first."""
    found = []
    for link in outputs_dir.glob("*/*/*"):
        kommune, period, cadence = link.relative_to(outputs_dir).parts
        if not (re.fullmatch(r"\d{3}", kommune) and cadence in CADENCE_LABELS and (link / "manifest.json").is_file()):
            continue
        try:
            manifest = json.loads((link / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        folder = f"{kommune}/{period}/{cadence}"
        vintage = manifest.get("vintages", {}).get("FOLK1AM", "")
        entry = Published(
            kommune,
            _municipality(link),
            period,
            code_label(period),
            cadence,
            CADENCE_LABELS[cadence].capitalize(),
            code_label(vintage) if vintage else "",
            folder,
        )
        for job in manifest.get("jobs", []):
            brief = link / job.get("brief", "-")
            if not brief.is_file():
                continue
            pdf = brief.with_suffix(".pdf")
            entry.briefs.append(
                (
                    _title(brief) or job["name"],
                    f"{folder}/{job['brief']}",
                    f"{folder}/{Path(job['brief']).with_suffix('.pdf')}" if pdf.is_file() else "",
                )
            )
        numbers = sorted(link.glob("tal-*.xlsx"))
        entry.numbers = f"{folder}/{numbers[0].name}" if numbers else ""
        overview = link / "briefs" / "overview.html"
        entry.statuses = _statuses(overview if overview.is_file() else None)
        found.append(entry)
    return sorted(found, key=lambda e: (e.kommune, e.period, e.cadence), reverse=True)


def build_index(outputs_dir: Path) -> Path:
    """Write outputs/index.html (beside a temporary file, renamed into place)."""
    environment = Environment(
        loader=PackageLoader("analysis", "report/templates/archive"), autoescape=select_autoescape(default=True)
    )
    html = environment.get_template("index.html.j2").render(runs=published_runs(outputs_dir), labels=STATUS_CLASSES)
    outputs_dir.mkdir(parents=True, exist_ok=True)
    path = outputs_dir / INDEX
    temporary = outputs_dir / f".{INDEX}.{os.getpid()}"
    temporary.write_text(html, encoding="utf-8")
    os.replace(temporary, path)
    return path


def _title(brief: Path) -> str:
    match = re.search(r"<h1>(.*?)</h1>", brief.read_text(encoding="utf-8"), re.S)
    return re.sub(r"<[^>]+>", "", match.group(1)).strip() if match else ""


def _municipality(folder: Path) -> str:
    for brief in sorted((folder / "briefs").glob("*.html")):
        match = re.search(r'<span class="meta-municipality">(.*?)</span>', brief.read_text(encoding="utf-8"))
        if match:
            return match.group(1)
    return ""


def _statuses(overview: Path | None) -> dict[str, int]:
    """How many indicators of the overview's first screen are on track, uncertain, off track."""
    if overview is None:
        return {}
    html = overview.read_text(encoding="utf-8")
    screen = html.split('id="saadan-gaar-det"', 1)[-1].split("</section>", 1)[0]
    return {word: screen.count(f'class="status {css}"') for css, word in STATUS_CLASSES.items()}
