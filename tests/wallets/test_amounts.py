import pytest

from neighborbid.errors import InvalidAmount
from wallets.amounts import format_won, parse_won


@pytest.mark.parametrize(
    ("raw", "won"), [(12000, 12000), ("12000", 12000), ("12,000", 12000), (" 1,234,567 ", 1234567), ("500원", 500)]
)
def test_accepts_whole_won(raw, won):
    assert parse_won(raw) == won


@pytest.mark.parametrize(
    "raw",
    [
        0,
        -1,
        "-1",
        "0",
        1.0,
        12000.5,
        float("nan"),
        float("inf"),
        "NaN",
        "Infinity",
        "1e3",
        "12.000",
        "1,2000",
        "12,00",
        "",
        " ",
        "abc",
        None,
        True,
        [1000],
        {"amount": 1},
        "9" * 30,
        10**13,
    ],
)
def test_refuses_everything_else(raw):
    with pytest.raises(InvalidAmount):
        parse_won(raw)


def test_format_won():
    assert format_won(1234567) == "1,234,567원"
