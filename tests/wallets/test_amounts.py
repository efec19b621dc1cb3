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


@pytest.mark.parametrize(
    ("raw", "won"),
    [
        ("5만", 50_000),
        ("5만원", 50_000),
        ("5만 3천", 53_000),
        ("5만3천원", 53_000),
        ("5만 3000", 53_000),
        ("만원", 10_000),
        ("천원", 1_000),
        ("3천5백", 3_500),
        ("12만 5천원", 125_000),
        ("1억 2천만", 120_000_000),
        ("2천5만", 20_050_000),
        ("1,200만", 12_000_000),
    ],
)
def test_accepts_amounts_written_with_korean_units(raw, won):
    """Issue 18 #19: "5만" was refused; people write amounts this way."""
    assert parse_won(raw) == won


@pytest.mark.parametrize(
    "raw",
    [
        "만만",
        "5천천",
        "3백2천",
        "1만2억",
        "12천",
        "1.5만",
        "5만원원",
        "원",
        "억만천백원 0",
        "5만 -3천",
        "五万",
        "５만",
        "1만 2만",
    ],
)
def test_refuses_korean_units_out_of_order_or_malformed(raw):
    with pytest.raises(InvalidAmount):
        parse_won(raw)
