import pytest

from neighborbid.errors import InvalidAmount
from wallets.amounts import format_won, parse_signed_won, parse_won


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


# Arabic-Indic, Persian, full-width and Devanagari 12000, with and without separators / 원;
# `\d` and int() take them all, docs/web.md allows only ASCII digits.
NON_ASCII_AMOUNTS = [
    "١٢٠٠٠",
    "۱۲۰۰۰",
    "１２０００",
    "१२०००",
    "١٢,٠٠٠",
    "１２,０００원",
    "12０00",
    "12000\u3000",
    "\u300012000",
    "12,000\u00a0원",
]


@pytest.mark.parametrize("raw", NON_ASCII_AMOUNTS)
def test_refuses_non_ascii_digits_and_blanks(raw):
    with pytest.raises(InvalidAmount):
        parse_won(raw)


@pytest.mark.parametrize(("raw", "won"), [("2500", 2500), ("-7,500", -7500), ("+1,000원", 1000), (-3, -3)])
def test_signed_amounts_for_corrections(raw, won):
    assert parse_signed_won(raw) == won


@pytest.mark.parametrize("raw", [*NON_ASCII_AMOUNTS, "-١٢٠٠٠", "0", "-0", "--5", "1.5", "NaN", "1e3", "", True, 1.0])
def test_signed_amounts_refuse_the_rest(raw):
    with pytest.raises(InvalidAmount):
        parse_signed_won(raw)


def test_frames_take_only_json_integers():
    # JSON numbers are ASCII by grammar; a string amount (in any digits) is refused in a frame.
    from realtime.frames import FrameRejected, parse_frame

    assert parse_frame('{"type": "bid", "request_id": "r", "amount": 12000}').amount == 12000
    for amount in ['"12000"', '"١٢٠٠٠"', "١٢٠٠٠", "12000.0", "1.2e4"]:
        with pytest.raises(FrameRejected):
            parse_frame('{"type": "bid", "request_id": "r", "amount": ' + amount + "}")
