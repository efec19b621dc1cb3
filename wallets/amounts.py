"""Strict parsing of whole-won amounts, shared by forms and the WebSocket consumer.

Python's json accepts NaN, Infinity and 1e999, and NaN passes both `x <= 0` and `x > balance`
checks. Only true integers (or digit strings with optional Korean-style thousands
separators, "12,000" / "12000원") are amounts; everything else is refused.
"""

from __future__ import annotations

import re

from neighborbid.errors import InvalidAmount

MAX_AMOUNT = 10**12  # far above any real price; keeps BIGINT and JS numbers exact
_PATTERN = re.compile(r"^(?:\d{1,3}(?:,\d{3})+|\d+)\s*(?:원)?$")


def parse_won(value: object, *, minimum: int = 1) -> int:
    if isinstance(value, bool):
        raise InvalidAmount()
    if isinstance(value, int):
        amount = value
    elif isinstance(value, str):
        text = value.strip()
        if not _PATTERN.match(text) or len(text) > 20:
            raise InvalidAmount()
        amount = int(text.replace(",", "").removesuffix("원").strip())
    else:
        # floats (1.0, NaN, Infinity), None, lists, dicts...
        raise InvalidAmount()
    if amount < minimum or amount > MAX_AMOUNT:
        raise InvalidAmount()
    return amount


def format_won(amount: int) -> str:
    return f"{amount:,}원"
