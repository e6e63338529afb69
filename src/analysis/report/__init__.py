"""Numbers in, what a reader sees out.

Takes `Figures` and statuses from indicators/; gives Danish number formats (fmt), sentences
(narrative, status_words), charts with alt text (charts), the analyst's DataFrames and the Excel
export (tables), what changed since the last run (changes), and the brief a notebook builds
(brief, with its Jinja templates). It reads processed data only through `data.processed`.
"""
