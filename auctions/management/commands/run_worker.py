import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from auctions.worker import worker_run_once


class Command(BaseCommand):
    help = "Open scheduled auctions, settle ended ones and warn watchers, in a loop. Safe to run several."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Do one pass and exit.")
        parser.add_argument("--interval", type=float, default=settings.NEIGHBORBID["WORKER_INTERVAL_SECONDS"])

    def handle(self, *args, once=False, interval=1.0, **options):
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write(f"worker started (interval {interval}s)")
        while True:
            result = worker_run_once()
            if result.opened or result.settled or result.warned or result.errors:
                self.stdout.write(
                    f"worker: opened={result.opened} settled={result.settled} "
                    f"warned={result.warned} errors={result.errors}"
                )
            if once or stopping:
                break
            time.sleep(interval)
            close_old_connections()  # drop a connection the database closed while we slept
        self.stdout.write("worker stopped")
