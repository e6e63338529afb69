"""An executed notebook as the brief a committee gets: HTML (nbconvert, the brief's template, outputs
only, no scripts) and an A4 PDF from the same HTML with its print styles (WeasyPrint).

A run renders each brief in a fork of its kernel server, which has imported nbconvert and
WeasyPrint and made one small brief already (`warm_up`): the first brief of a process otherwise
pays for nbconvert's templates and WeasyPrint's fonts and C bindings. Without a kernel server
(Dask workers, systems without fork), the run's own workers call `brief_files` themselves.

Example::

    brief_files("executed/growth.ipynb", "briefs/growth.html", "briefs/growth.pdf")
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from analysis.paths import TEMPLATES_DIR

UNTITLED = "Strategiopfølgning"


def brief_files(executed: str, html: str, pdf: str) -> None:
    """Write the HTML and the PDF brief of the executed notebook at `executed`."""
    import nbformat

    notebook = nbformat.read(executed, as_version=4)
    body = export_brief(notebook, document_title(notebook))
    Path(html).write_text(body, encoding="utf-8")
    write_pdf(body, Path(pdf))


def export_brief(notebook, title: str) -> str:
    """The HTML brief of an executed notebook: outputs only, our template, no scripts."""
    notebook.metadata["title"] = title
    body, _resources = _exporter().from_notebook_node(notebook)
    return body


@cache
def _exporter():
    """nbconvert's HTML exporter with the brief's template, made once a process (its templates and
    preprocessors are read when it is made; a conversion changes nothing of it)."""
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    exporter = HTMLExporter(
        template_name="brief",
        extra_template_basedirs=[str(TEMPLATES_DIR)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    # The parameter cells show nothing, and papermill gives the injected one a random id.
    hidden = {"analyst", "parameters", "injected-parameters"}
    exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags=hidden), enabled=True)
    return exporter


def write_pdf(html: str, path: Path | None) -> bytes | None:
    """The brief as an A4 PDF for the agenda, from the same HTML with its print styles (WeasyPrint):
    selectable text, the charts as they are, page numbers, the municipality, brief and period in
    the header, tagged for accessibility (PDF/UA). Without a path, the PDF's bytes.

    No base URL: the links to the numbers files stay relative, as in the HTML, so they work beside
    the published briefs (WeasyPrint would resolve them against the build folder, a path on this
    machine that the next run removes). The brief needs no other file: its charts are data URIs
    and its styles are in the page."""
    import weasyprint

    document = weasyprint.HTML(string=html, base_url=None)
    return document.write_pdf(path, pdf_variant="pdf/ua-1")


@cache
def warm_up() -> None:
    """Make one small brief, HTML and PDF, once a process, so that the processes forked from it
    start warm."""
    import nbformat

    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("")
    table = "<table><caption>Tal</caption><tr><th>Kommune</th><td>48.167</td></tr></table>"
    cell.outputs = [nbformat.v4.new_output("display_data", {"text/html": f"<h2>Vækst</h2><p>Tekst</p>{table}"})]
    notebook.cells.append(cell)
    write_pdf(export_brief(notebook, UNTITLED), None)


def document_title(notebook) -> str:
    """The brief's title, as the brief gave it with its header (Brief.document_title)."""
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            title = output.get("metadata", {}).get("brief", {}).get("title")
            if title:
                return title
    return UNTITLED
