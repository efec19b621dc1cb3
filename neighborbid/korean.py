"""Korean particles (조사) chosen from the last syllable, so copy never needs "을(를)" or "이(가)".

    josa("경매", "을/를") == "경매를"      particle("책상", "이/가") == "이"
    josa("서울", "으로/로") == "서울로"   (ㄹ받침 takes 로)

A Hangul syllable decides by its 받침 (batchim). After digits and Latin letters the particle
follows how Koreans read them (3 "삼" → 을, 2 "이" → 를; "PS5" → 를, "M" "엠" → 을). Trailing
quotes, brackets and spaces are skipped ("'원목 책상'을"). With nothing readable the form with
batchim is used after a consonant-sounding word and the other otherwise; an empty word gets the
form without batchim. Services and templates (the `josa` / `particle` filters in
auctions/templatetags/nb.py) both use this module.
"""

from __future__ import annotations

_HANGUL_FIRST, _HANGUL_LAST = 0xAC00, 0xD7A3
_RIEUL = 8  # jongseong index of ㄹ
# digits read in Sino-Korean: 영 일 이 삼 사 오 육 칠 팔 구 → batchim? (ㄹ for 일, 칠, 팔)
_DIGIT_BATCHIM = {"0": "ㅇ", "1": "ㄹ", "2": "", "3": "ㅁ", "4": "", "5": "", "6": "ㄱ", "7": "ㄹ", "8": "ㄹ", "9": ""}
# Latin letters as read in Korean: 엘/알 end in ㄹ, 엠 in ㅁ, 엔 in ㄴ; the rest in a vowel.
_LATIN_BATCHIM = {"l": "ㄹ", "r": "ㄹ", "m": "ㅁ", "n": "ㄴ"}
_SKIP = " \t\n'\"‘’“”「」『』()[]{}<>.,!?…·"

PAIRS = {
    "을/를": ("을", "를"),
    "이/가": ("이", "가"),
    "은/는": ("은", "는"),
    "과/와": ("과", "와"),
    "와/과": ("과", "와"),
    "이에요/예요": ("이에요", "예요"),
    "이라/라": ("이라", "라"),
    "으로/로": ("으로", "로"),
}


def _batchim(word: str) -> str | None:
    """The final consonant of the word's last readable character: "" (none), "ㄹ", another
    consonant marker, or None when nothing is readable."""
    text = (word or "").rstrip(_SKIP)
    if not text:
        return None
    last = text[-1]
    code = ord(last)
    if _HANGUL_FIRST <= code <= _HANGUL_LAST:
        jong = (code - _HANGUL_FIRST) % 28
        return "" if jong == 0 else ("ㄹ" if jong == _RIEUL else "ㅇ")
    if last in _DIGIT_BATCHIM:
        return _DIGIT_BATCHIM[last]
    if last.isascii() and last.isalpha():
        return _LATIN_BATCHIM.get(last.lower(), "")
    return None


def particle(word: str, pair: str) -> str:
    """The particle of `pair` ("을/를", "이/가", "은/는", "과/와", "이에요/예요", "으로/로") that
    goes after `word`."""
    with_batchim, without = PAIRS[pair]
    batchim = _batchim(word)
    if not batchim:  # no batchim, or nothing readable
        return without
    if pair == "으로/로" and batchim == "ㄹ":
        return without
    return with_batchim


def josa(word: str, pair: str) -> str:
    """`word` followed by the right particle: josa("경매 #12", "을/를") == "경매 #12를"."""
    return f"{word}{particle(word, pair)}"
