"""Periods: DST's codes (2025K1, 2025M03, 2024) <-> pandas Periods, and their Danish labels.

Example::

    >>> p = parse_period("2025K1")
    >>> code(p), label(p)
    ('2025K1', '1. kvt. 2025')
    >>> reference_date(p)
    datetime.date(2025, 1, 1)
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

from babel.dates import format_date, get_quarter_names

from analysis.errors import WorkbookError

if TYPE_CHECKING:
    import pandas as pd

LOCALE = "da_DK"
CADENCES = {"kvartal": "Q", "aar": "Y"}
CADENCE_LABELS = {"kvartal": "kvartalsopfølgning", "aar": "årlig opfølgning"}

_PATTERNS = {
    "M": re.compile(r"^(\d{4})M(0[1-9]|1[0-2])$"),
    "Q": re.compile(r"^(\d{4})K([1-4])$"),
    "Y": re.compile(r"^(\d{4})$"),
}


def parse_period(text: str, freq: str | None = None) -> pd.Period:
    """Parse a DST period code; `freq` ('M', 'Q' or 'Y') restricts which kind is accepted."""
    import pandas as pd  # here, so that checking a period's text needs no pandas

    text = str(text).strip()
    kinds = [freq] if freq else list(_PATTERNS)
    for kind in kinds:
        match = _PATTERNS[kind].match(text)
        if match:
            year = int(match.group(1))
            if kind == "Y":
                return pd.Period(year=year, freq="Y")
            if kind == "Q":
                return pd.Period(year=year, quarter=int(match.group(2)), freq="Q")
            return pd.Period(year=year, month=int(match.group(2)), freq="M")
    expected = {
        "M": "a month like 2025M03",
        "Q": "a quarter like 2025K1 (K1-K4)",
        "Y": "a year like 2024",
    }
    raise ValueError(f"'{text}' is not {' or '.join(expected[k] for k in kinds)}")


def code(period: pd.Period) -> str:
    """The DST code of a period: 2025K1, 2025M03, 2024."""
    kind = freq_of(period)
    if kind == "Q":
        return f"{period.year}K{period.quarter}"
    if kind == "M":
        return f"{period.year}M{period.month:02d}"
    return str(period.year)


def freq_of(period: pd.Period) -> str:
    """'M', 'Q' or 'Y' for a pandas Period."""
    name = period.freqstr
    if name.startswith("M"):
        return "M"
    if name.startswith("Q"):
        return "Q"
    return "Y"


def label(period: pd.Period) -> str:
    """The Danish label of a period: '1. kvt. 2025', 'marts 2025', '2024'."""
    kind = freq_of(period)
    if kind == "Q":
        return f"{get_quarter_names('abbreviated', locale=LOCALE)[period.quarter]} {period.year}"
    if kind == "M":
        return format_date(period.start_time.date(), "MMMM y", locale=LOCALE)
    return str(period.year)


def code_label(text: str) -> str:
    """The Danish label of a period code, without pandas: '2025K1' -> '1. kvt. 2025',
    '2025M03' -> 'marts 2025', '2024' -> '2024' (the archive page needs no more)."""
    for kind, pattern in _PATTERNS.items():
        match = pattern.match(str(text).strip())
        if match:
            year = int(match.group(1))
            if kind == "Q":
                return f"{get_quarter_names('abbreviated', locale=LOCALE)[int(match.group(2))]} {year}"
            if kind == "M":
                return format_date(dt.date(year, int(match.group(2)), 1), "MMMM y", locale=LOCALE)
            return str(year)
    return label(parse_period(text))  # says what is wrong with the code


def date_label(day: dt.date) -> str:
    """A Danish date: '1. januar 2025'."""
    return format_date(day, "d. MMMM y", locale=LOCALE)


def short_date(day: dt.date) -> str:
    """A short Danish date for tables: '1. jan. 2025'."""
    return format_date(day, "d. MMM y", locale=LOCALE)


def reference_date(period: pd.Period) -> dt.date:
    """The first day of the period: the date a stock such as the population is measured on."""
    return period.start_time.date()


def cadence_period(text: str, cadence: str) -> pd.Period:
    """Parse a run's --period for its cadence, with a one-line error for the user."""
    return parse_period(check_period_text(text, cadence), CADENCES[cadence])


def check_period_text(text: str, cadence: str) -> str:
    """The period code itself when it fits the cadence, else a one-line error (no pandas needed)."""
    if cadence not in CADENCES:
        raise WorkbookError(f"--cadence {cadence}: unknown cadence; expected one of {', '.join(CADENCES)}")
    if not _PATTERNS[CADENCES[cadence]].match(str(text).strip()):
        expected = {"Q": "a quarter like 2025K1 (K1-K4)", "Y": "a year like 2024"}[CADENCES[cadence]]
        raise WorkbookError(f"--period {text}: '{text}' is not {expected} for --cadence {cadence}")
    return str(text).strip()
