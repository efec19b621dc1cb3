"""Load (or re-load) the national 동 table: idempotent by 행정기관코드 (accounts.services.neighbourhoods_load)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand

from accounts.geodata import DATA_FILE, read_rows
from accounts.services import neighbourhoods_load


class Command(BaseCommand):
    help = "행정동 표(accounts/data/korea_dong.csv 또는 --file)를 동네로 불러와요. 여러 번 실행해도 같아요."

    def add_arguments(self, parser):
        parser.add_argument(
            "--file", type=Path, default=DATA_FILE, help="같은 열(code,sido,sigungu,dong,lat,lng)의 CSV"
        )

    def handle(self, *args, file: Path, **options):
        report = neighbourhoods_load(rows=read_rows(file))
        if not report:
            self.stdout.write("바뀐 동네가 없어요.")
            return
        self.stdout.write(", ".join(f"{key} {value}" for key, value in sorted(report.items())))
