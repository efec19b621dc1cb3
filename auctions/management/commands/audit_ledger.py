from django.core.management.base import BaseCommand, CommandError

from auctions.audit import audit_ledger


class Command(BaseCommand):
    help = (
        "Check that the books balance (ledger vs wallets, escrow vs auctions, payouts). Non-zero exit on any violation."
    )

    def handle(self, *args, **options):
        report = audit_ledger()
        for line in report.lines():
            self.stdout.write(line)
        if not report.ok:
            raise CommandError(f"audit_ledger: {len(report.violations)} violation(s)")
