"""Danish number formats for briefs, from Babel's da_DK locale data.

Example::

    >>> number(48167), decimal(1.0332, 2), percent(0.6), signed(366)
    ('48.167', '1,03', '0,6\\xa0%', '+366')
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal, localcontext
from functools import cache

from babel import Locale
from babel.numbers import NumberPattern, format_decimal, parse_pattern

from analysis import params
from analysis.params import Unit

LOCALE = "da_DK"
NBSP = "\u00a0"
MINUS = "\u2212"  # a real minus sign reads better than a hyphen in a table


@cache
def _locale() -> Locale:
    return Locale.parse(LOCALE)


@cache
def _pattern(digits: int) -> NumberPattern:
    """Babel's pattern for `digits` decimals, parsed once (Babel parses a pattern given as text at every call)."""
    return parse_pattern("#,##0" + ("." + "0" * digits if digits else ""))


def number(value: float, digits: int = 0) -> str:
    """48167 -> '48.167'; 82.25 with digits=1 -> '82,3'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    # Round half away from zero, as statistics offices do, on the decimal text of the value.
    with localcontext() as context:
        context.rounding = ROUND_HALF_UP
        text = format_decimal(Decimal(repr(float(value))), format=_pattern(digits), locale=_locale())
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


def _word(value: float, unit: Unit) -> str:
    """The unit's word, in its singular for exactly one: '1 klage', not '1 klager'."""
    if value is not None and abs(value) == 1 and unit.singular:
        return unit.singular
    return unit.name


def _amount_digits(value: float, unit: Unit) -> int:
    return 0 if abs(value) >= 100 or float(value).is_integer() else unit.decimals


def with_unit(value: float, unit: Unit | str | None, extra: int = 0) -> str:
    """Format a value as its unit declares (params/units.yml), as the brief's table shows it;
    `extra` digits more."""
    unit = params.unit(unit)
    if unit.format == "percent":
        return percent(value, unit.decimals + extra)
    if unit.format == "rank":
        return f"nr.{NBSP}{number(value)}"
    if unit.format in ("ratio", "count"):
        return number(value, unit.decimals + extra)
    return f"{number(value, _amount_digits(value, unit) + extra)}{NBSP}{_word(value, unit)}"


def pair(first: float, second: float, unit: Unit | str | None, render=None) -> tuple[str, str]:
    """Two numbers that are shown side by side, with one or two more decimals when they would
    otherwise read the same ('0,54 % mod 0,46 %' rather than '0,5 % mod 0,5 %')."""
    render = render or (lambda value, extra: with_unit(value, unit, extra))
    for extra in range(3):
        a, b = render(first, extra), render(second, extra)
        if a != b or first == second:
            return a, b
    return a, b


def change_with_unit(value: float, unit: Unit | str | None) -> str:
    """Format a change as its unit declares: '+0,7 pct.-point', '+0,02', '−11,5 dage', '+1 klage'."""
    unit = params.unit(unit)
    if unit.format == "percent":
        return points(value, short=True)
    if unit.format in ("ratio", "count"):
        return signed(value, unit.decimals)
    if unit.format == "rank":
        return signed(value)
    return f"{signed(value, _amount_digits(value, unit))}{NBSP}{_word(value, unit)}"
