"""Strict parsing of whole-won amounts, shared by forms and the WebSocket consumer.

Python's json accepts NaN, Infinity and 1e999, and NaN passes both `x <= 0` and `x > balance`
checks. Only true integers (or digit strings with optional Korean-style thousands
separators, "12,000" / "12000원") are amounts; everything else is refused.

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


def _digits_value(text: str) -> int:
    return int(text.replace(",", "").removesuffix("원").strip(" "))


def parse_won(value: object, *, minimum: int = 1) -> int:
    if isinstance(value, bool):
        raise InvalidAmount()
    if isinstance(value, int):
        amount = value
    elif isinstance(value, str):
        text = value.strip(_BLANKS)
        if len(text) > 20 or not _PATTERN.fullmatch(text):
            raise InvalidAmount()
        amount = _digits_value(text)
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
