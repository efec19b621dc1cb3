"""Strict parsing of whole-won amounts, shared by forms and the WebSocket consumer.

Python's json accepts NaN, Infinity and 1e999, and NaN passes both `x <= 0` and `x > balance`
checks. Only true integers, digit strings with optional thousands separators ("12,000" /
"12000원"), and the way people write amounts in Korean with the units 억, 만, 천 and 백
("5만", "5만 3천원", "1억 2천만", "3천5백", "만원") are amounts; everything else is refused.
static/js/app.js (`NB.typedWon`) reads the same forms for the pages' previews.

Digits are ASCII `0-9` only: `\\d` and `int()` also take Arabic-Indic (١٢٠٠٠), Persian (۱۲۰۰۰),
full-width (１２０００) and Devanagari (१२०००) digits, and those are refused here (docs/web.md).
"""

from __future__ import annotations

import re

from neighborbid.errors import InvalidAmount

MAX_AMOUNT = 10**12  # far above any real price; keeps BIGINT and JS numbers exact
_DIGITS = r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)"
_PATTERN = re.compile(_DIGITS + r" *(?:원)?", re.ASCII)
_SIGNED_PATTERN = re.compile(r"[-+]?" + _DIGITS + r" *(?:원)?", re.ASCII)
_BLANKS = " \t\r\n"  # ASCII blanks only around the amount


_UNITS = {"억": 10**8, "만": 10**4, "천": 1_000, "백": 100}
_TERM = re.compile(r"([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)?([억만천백])?")


def _korean_value(text: str) -> int | None:
    """An amount written with Korean units, or None when it is not one. Terms come in order
    (억 before 만; within a group 천 before 백, each coefficient below 10), a plain number only
    last ("5만 3000"); a unit without a number counts once ("만원" = 10,000)."""
    s = text.replace(" ", "").removesuffix("원")
    if not s or not any(unit in s for unit in _UNITS):
        return None
    total = group = 0
    last_big, last_small = 10**13, 10**5
    pos = 0
    while pos < len(s):
        m = _TERM.match(s, pos)
        if m is None or m.end() == pos:
            return None
        number = int(m.group(1).replace(",", "")) if m.group(1) else None
        unit = m.group(2)
        if unit is None:  # a plain number: the last term only
            if m.end() != len(s) or number is None:
                return None
            group += number
        elif unit in ("천", "백"):
            if _UNITS[unit] >= last_small or (number is not None and number >= 10):
                return None
            group += (1 if number is None else number) * _UNITS[unit]
            last_small = _UNITS[unit]
        else:  # 만, 억: the group so far (and a number before the unit) times the unit
            if _UNITS[unit] >= last_big:
                return None
            value = group + (number or 0) or 1
            if value >= 10_000:
                return None
            total += value * _UNITS[unit]
            group, last_big, last_small = 0, _UNITS[unit], 10**5
        pos = m.end()
    return total + group


def _digits_value(text: str) -> int:
    return int(text.replace(",", "").removesuffix("원").strip(" "))


def parse_won(value: object, *, minimum: int = 1) -> int:
    if isinstance(value, bool):
        raise InvalidAmount()
    if isinstance(value, int):
        amount = value
    elif isinstance(value, str):
        text = value.strip(_BLANKS)
        if len(text) > 20:
            raise InvalidAmount()
        if _PATTERN.fullmatch(text):
            amount = _digits_value(text)
        else:
            korean = _korean_value(text)
            if korean is None:
                raise InvalidAmount()
            amount = korean
    else:
        # floats (1.0, NaN, Infinity), None, lists, dicts...
        raise InvalidAmount()
    if amount < minimum or amount > MAX_AMOUNT:
        raise InvalidAmount()
    return amount


def parse_signed_won(value: object, *, limit: int = MAX_AMOUNT) -> int:
    """A non-zero correction in whole won, "-7,500" or "2500": the same ASCII forms with an
    optional sign (the admin's manual correction)."""
    if isinstance(value, bool):
        raise InvalidAmount()
    if isinstance(value, int):
        amount = value
    elif isinstance(value, str):
        text = value.strip(_BLANKS)
        if len(text) > 21 or not _SIGNED_PATTERN.fullmatch(text):
            raise InvalidAmount()
        sign = -1 if text.startswith("-") else 1
        amount = sign * _digits_value(text.lstrip("+-"))
    else:
        raise InvalidAmount()
    if amount == 0 or abs(amount) > limit:
        raise InvalidAmount()
    return amount


def format_won(amount: int) -> str:
    return f"{amount:,}원"
