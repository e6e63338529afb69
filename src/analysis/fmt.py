"""Danish number formats for briefs, from Babel's da_DK locale data.

Example::

    >>> number(48167), decimal(1.0332, 2), percent(0.6), signed(366)
    ('48.167', '1,03', '0,6\\xa0%', '+366')
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal, localcontext

from babel.numbers import format_decimal

LOCALE = "da_DK"
NBSP = "\u00a0"
MINUS = "\u2212"  # a real minus sign reads better than a hyphen in a table


def _pattern(digits: int) -> str:
    return "#,##0" + ("." + "0" * digits if digits else "")


def number(value: float, digits: int = 0) -> str:
    """48167 -> '48.167'; 82.25 with digits=1 -> '82,3'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    # Round half away from zero, as statistics offices do, on the decimal text of the value.
    with localcontext() as context:
        context.rounding = ROUND_HALF_UP
        text = format_decimal(Decimal(repr(float(value))), format=_pattern(digits), locale=LOCALE)
    if text.startswith("-") and not text.strip("-0,."):
        text = text[1:]  # '-0,0' is zero
    return text.replace("-", MINUS)


def decimal(value: float, digits: int = 2) -> str:
    """1.0332 -> '1,03'."""
    return number(value, digits)


def significant(value: float, digits: int = 3) -> str:
    """For method notes: three significant digits, but never fewer than the whole number.
    1.0332 -> '1,03'; 0.0012345 -> '0,00123'; 48167.4 -> '48.167'."""
    if value is None or math.isnan(value) or value == 0:
        return number(value)
    return number(value, max(0, digits - 1 - math.floor(math.log10(abs(value)))))


def percent(value: float, digits: int = 1) -> str:
    """A value already in percent: 0.6 -> '0,6 %' (with a non-breaking space)."""
    return f"{number(value, digits)}{NBSP}%"


def signed(value: float, digits: int = 0) -> str:
    """A change with its sign: 366 -> '+366', -0.25 -> '−0,3' (digits=1)."""
    text = number(value, digits)
    if value is not None and not math.isnan(value) and round(value, digits) > 0:
        return "+" + text
    return text


def points(value: float, digits: int = 1, short: bool = False) -> str:
    """A change in percentage points: 0.4 -> '+0,4 procentpoint' (short: '+0,4 pct.-point')."""
    return f"{signed(value, digits)}{NBSP}{'pct.-point' if short else 'procentpoint'}"


# A unit's form for exactly one: '1 pejlemærke opfyldt', not '1 pejlemærker opfyldt'.
SINGULAR = {
    "pejlemærker opfyldt": "pejlemærke opfyldt",
    "klager": "klage",
    "grunde": "grund",
    "dage": "dag",
    "partnerskaber": "partnerskab",
    "medlemmer": "medlem",
    "virksomheder": "virksomhed",
    "børn": "barn",
    "firmaer": "firma",
    "familier": "familie",
    "flytninger": "flytning",
}


def with_unit(value: float, unit: str, extra: int = 0) -> str:
    """Format a value by the indicator's unit, as the brief's table shows it; `extra` digits more."""
    if value is not None and abs(value) == 1 and unit in SINGULAR:
        unit = SINGULAR[unit]
    if unit == "pct":
        return percent(value, 1 + extra)
    if unit == "forhold":
        return decimal(value, 2 + extra)
    if unit == "placering":
        return f"nr.{NBSP}{number(value)}"
    if unit in ("personer", ""):
        return number(value, extra)
    digits = (0 if abs(value) >= 100 or float(value).is_integer() else 1) + extra
    return f"{number(value, digits)}{NBSP}{unit}"


def pair(first: float, second: float, unit: str, render=None) -> tuple[str, str]:
    """Two numbers that are shown side by side, with one or two more decimals when they would
    otherwise read the same ('0,54 % mod 0,46 %' rather than '0,5 % mod 0,5 %')."""
    render = render or (lambda value, extra: with_unit(value, unit, extra))
    for extra in range(3):
        a, b = render(first, extra), render(second, extra)
        if a != b or first == second:
            return a, b
    return a, b


def change_with_unit(value: float, unit: str) -> str:
    """Format a change by the indicator's unit: '+0,7 pct.-point', '+0,02', '−11,5 dage', '+1 klage'."""
    if value is not None and abs(value) == 1 and unit in SINGULAR:
        unit = SINGULAR[unit]
    if unit == "pct":
        return points(value, short=True)
    if unit == "forhold":
        return signed(value, 2)
    if unit in ("personer", "", "placering"):
        return signed(value)
    digits = 0 if abs(value) >= 100 or float(value).is_integer() else 1
    return f"{signed(value, digits)}{NBSP}{unit}"
