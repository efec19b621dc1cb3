import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from auctions.worker import worker_loop
from notifications.push import push_loop, push_send_once


class Command(BaseCommand):
    help = "Open scheduled auctions, settle ended ones and warn watchers, in a loop. Safe to run several."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Do one pass and exit.")
        parser.add_argument("--interval", type=float, default=settings.NEIGHBORBID["WORKER_INTERVAL_SECONDS"])

    def handle(self, *args, once=False, interval=1.0, **options):
        stopping = threading.Event()

        def stop(signum, frame):
            stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write(f"worker started (interval {interval}s)")

        def report(result):
            self.stdout.write(
                f"worker: opened={result.opened} settled={result.settled} warned={result.warned} errors={result.errors}"
            )

        # Web Push goes out from its own thread, so a slow push service never delays settlement
        # (notifications/push.py); --once does one push pass after the settlement pass.
        pusher = None
        if not once:
            pusher = threading.Thread(
                target=push_loop,
                kwargs={"interval": interval, "should_stop": stopping.is_set, "sleep": stopping.wait},
                name="neighborbid-push",
                daemon=True,
            )
            pusher.start()
        # A database fault or one bad auction never ends the loop (auctions/worker.py).
        worker_loop(interval=interval, should_stop=stopping.is_set, once=once, report=report, sleep=stopping.wait)
        if once:
            push_send_once()
        elif pusher is not None:
            pusher.join(10)
        self.stdout.write("worker stopped")
