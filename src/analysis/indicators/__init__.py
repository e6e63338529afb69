"""Processed data in, numbers out.

Takes the processed observations and params/indicators.yml; gives the tidy indicator table
(indicator, area, period, value, numerator, denominator) for every municipality (measures), the
comparison groups and their figures (compare), which periods and figures a run may use
(selection), one `Figures` per indicator for a brief (figures) and a status per target as rule
and figures (targets). Nothing here writes a Danish sentence, an HTML tag or a chart.
"""
