"""Writes the four thin notebooks in notebooks/ (run from the project root: python tools/make_notebooks.py).

The notebooks are source files committed without outputs; this script keeps their shape the same.
Edit it, run it, and commit both when a section is added.
"""

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

PURPOSE = {
    "growth": (
        "Growth",
        "Vækst i balance / Vækst og udvikling i balance / Øget vækst",
        "population, population growth against the comparison group, young in- and out-movers, employment, and the growth indicators whose data is still missing",
    ),
    "community": (
        "Community",
        "Forpligtende fællesskaber / Forskellige sammen / Kerneopgaver",
        "children in the towns, partnerships, sickness absence, loneliness, association membership, people moving back",
    ),
    "cooperation": (
        "Cooperation",
        "Smidige og effektive processer / Smidigt samarbejde / Økonomi som mulighed",
        "complaints, satisfaction, case-processing times, DI's business-climate ranking",
    ),
    "overview": (
        "Overview",
        "all three sigtepunkter, for Kommunalbestyrelsen",
        "the indicator table of every theme and one headline chart per theme",
    ),
    "committee": (
        "Committee",
        "the sigtepunkter as one committee (udvalg) works with them",
        "the committee's focus areas, the indicators that follow them, its fokusliste items and its own words",
    ),
}
# The indicator an analyst cell shows first, per notebook: the first of its theme with figures.
EXAMPLE = {
    "growth": "population_growth",
    "community": "children_in_towns",
    "cooperation": "complaints",
    "overview": "population_growth",
    "committee": "population",
}
PARAMS = """theme = "THEME"  # the sigtepunkt this notebook makes the brief for (params/runs.yml passes it)
period = "latest"  # "latest", a quarter like "2025K1" (cadence kvartal) or a year like "2024" (cadence aar)
cadence = "kvartal"  # "kvartal" or "aar"
kommune = 766  # kommunekode: Hedensted
comparison_group = "kommunegruppe"  # the municipality's own DST group, or a group name such as "Landkommuner"
strategy_period = ""  # a key of params/strategy.yml: strategy_periods; "" picks the one whose years hold the period
data = ""  # a raw data folder; "" means data/raw/, then ../shared/data
example_data = False  # True fills manual indicators without a file with illustrative "Eksempeldata"
previous_run = ""  # the manifest.json of the previous brief, set by `python -m analysis run`
run_id = ""  # set by `python -m analysis run`
git_commit = ""  # set by `python -m analysis run`"""

for theme, (name, sigtepunkt, holds) in PURPOSE.items():
    nb = new_notebook()
    intro = new_markdown_cell(
        f"# {name} brief\n\n"
        f"Sigtepunkt: {sigtepunkt}. This notebook makes the {theme} brief: {holds}.\n\n"
        "All logic lives in `src/analysis`; this notebook only sets parameters and calls one section at a time. "
        "Run it as it stands in JupyterLab, or through `python -m analysis run`, which executes it with papermill "
        "and exports the HTML brief. This cell is for analysts and is left out of the brief."
    )
    intro.metadata["tags"] = ["analyst"]
    source = PARAMS.replace("THEME", theme)
    if theme == "committee":
        source = (
            'committee = "oekonomiudvalget"  # a committee id of the strategy period in params/strategy.yml\n'
            + source.replace(
                'cadence = "kvartal"  # "kvartal" or "aar"',
                'cadence = "aar"  # committee briefs belong to the annual follow-up',
            )
        )
    parameters = new_code_cell(source)
    parameters.metadata["tags"] = ["parameters"]

    def analyst(cell):
        cell.metadata["tags"] = ["analyst"]  # kept in the executed notebook, left out of the HTML brief
        return cell

    example = EXAMPLE[theme]
    cells = [
        intro,
        parameters,
        new_code_cell(
            "from analysis.report.brief import open_brief\n"
            "from analysis.report.tables import show\n\n"
            f"brief = open_brief(theme=theme, {'committee=committee, ' if theme == 'committee' else ''}period=period, cadence=cadence, kommune=kommune,\n"
            "                   comparison_group=comparison_group, strategy_period=strategy_period,\n"
            "                   data=data, example_data=example_data, previous_run=previous_run,\n"
            "                   run_id=run_id, git_commit=git_commit)\n"
            "brief.show_header()"
        ),
        analyst(
            new_markdown_cell(
                "## The numbers\n\n"
                "Every number of the brief as a DataFrame (these cells are tagged `analyst`: the executed notebook "
                "keeps them, the HTML brief leaves them out). `brief.table()` has one row per indicator; "
                "`brief.series(id)` an indicator's figures over time with the comparison on each date; "
                "`brief.group(id)` the compared municipalities' figures. To compare with another group, change "
                '`comparison_group` in the parameters cell (for example `"Landkommuner"` or `"mest-lignende"`) '
                "and run the notebook again."
            )
        ),
        analyst(new_code_cell('table = brief.table()\nshow(table, "The brief\'s indicators")')),
        analyst(
            new_code_cell(
                f'indicator = "{example}"  # any id of params/indicators.yml\n'
                "show(brief.series(indicator), indicator)\n"
                'show(brief.group(indicator), f"{indicator}: the compared municipalities")'
            )
        ),
        analyst(new_code_cell("show(brief.comparison_members(), brief.comparison_sentence)")),
        analyst(new_code_cell("brief.show_indicator_data()")),
        new_code_cell("brief.show_summary()"),
        new_code_cell("brief.show_indicator_table()"),
        new_code_cell("brief.show_changes()"),
        new_code_cell("brief.show_indicators()"),
        new_code_cell("brief.show_qualitative()"),
        new_code_cell("brief.show_sources()"),
        new_code_cell("brief.show_footer()"),
    ]
    nb.cells = cells
    # `make lab` registers this kernel: the project's .venv (a run executes with it as python3).
    nb.metadata["kernelspec"] = {
        "name": "strategy-workbook",
        "display_name": "Strategiopfølgning (.venv)",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    for i, cell in enumerate(nb.cells):
        cell.id = str(i)  # as nbstripout numbers them, so the committed notebooks pass its check
    nbformat.write(nb, f"notebooks/{theme}.ipynb")
