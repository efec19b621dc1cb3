"""The national 동 table (accounts/data/korea_dong.csv, see accounts/data/README.md): reading
it, the display names, the 초성 used by the search box, and the name stems used to match the
hand-typed 동 of earlier migrations to their 행정기관코드. Pure functions, no database."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

DATA_FILE = Path(__file__).resolve().parent / "data" / "korea_dong.csv"
ATTRIBUTION = "행정동 경계 중심점: 통계청 통계지리정보서비스, vuski/admdongkor"

_CHOSEONG = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_HANGUL_FIRST, _HANGUL_LAST = 0xAC00, 0xD7A3
_CITY_WARD = re.compile(r"^(.+?시)(.+구)$")


@dataclass(frozen=True)
class DongRow:
    code: str
    sido: str
    sigungu: str  # for display: "성남시 분당구" (the file writes "성남시분당구")
    name: str
    latitude: float
    longitude: float

    @property
    def district(self) -> str:
        return district_label(self.sido, self.sigungu)


def sigungu_label(raw: str) -> str:
    """ "성남시분당구" → "성남시 분당구"; "제주시", "강남구" unchanged."""
    raw = raw.strip()
    match = _CITY_WARD.match(raw)
    return f"{match[1]} {match[2]}" if match else raw


def district_label(sido: str, sigungu: str) -> str:
    """ "제주특별자치도 제주시"; 세종 has no 시군구 of its own ("세종특별자치시")."""
    if not sigungu or (sido == "세종특별자치시" and sigungu == "세종시"):
        return sido
    return f"{sido} {sigungu}"


def initials(text: str) -> str:
    """The 초성 of each Hangul syllable; other characters as they are ("역삼1동" → "ㅇㅅ1ㄷ")."""
    out = []
    for ch in text:
        code = ord(ch)
        if _HANGUL_FIRST <= code <= _HANGUL_LAST:
            out.append(_CHOSEONG[(code - _HANGUL_FIRST) // 588])
        else:
            out.append(ch)
    return "".join(out)


def is_initials_query(text: str) -> bool:
    """Only 초성 letters (and digits): "ㅇㅅ", "ㅇㅅ1"."""
    return bool(text) and all(ch in _CHOSEONG or ch.isdigit() for ch in text) and any(ch in _CHOSEONG for ch in text)


def name_stem(name: str) -> str:
    """The part of a 동 name shared by its numbered 행정동: "역삼동", "역삼1동" → "역삼";
    "성수동1가", "성수1가1동" → "성수"; "상계10동" → "상계"."""
    stem = re.sub(r"\d+가", "", name)
    stem = re.sub(r"[\d·.]+", "", stem)
    stem = re.sub(r"제(?=동$)", "", stem)
    return re.sub(r"(동|읍|면|가)$", "", stem)


def read_rows(path: Path = DATA_FILE) -> list[DongRow]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            DongRow(
                code=row["code"].strip(),
                sido=row["sido"].strip(),
                sigungu=sigungu_label(row["sigungu"]),
                name=row["dong"].strip(),
                latitude=float(row["lat"]),
                longitude=float(row["lng"]),
            )
            for row in csv.DictReader(handle)
        ]
