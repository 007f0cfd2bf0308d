"""Retention: the regional rules of how long what is kept, applied by a nightly job of the
worker and by `parta purge` (with `--dry-run`, a report of what would go).

- journal content (marks, attendance, topics, homework and its files, remarks, their
  history): `PARTA_RETENTION_JOURNAL_YEARS` school years (5);
- final marks and their history: `PARTA_RETENTION_FINAL_MARKS_YEARS` (25);
- deliveries, inbox notifications, relayed outbox events: `PARTA_RETENTION_DELIVERIES_DAYS` (365);
- the audit log: `PARTA_RETENTION_AUDIT_YEARS` (5);
- the meals ledger is not purged: balances are the replay of its entries, and the law on
  accounting (402-FZ art. 29) keeps payment records at least 5 years.

School years end in summer: journal content goes a whole school year at a time, from
1 September of the year `PARTA_RETENTION_JOURNAL_YEARS` school years before the current one
(on 6 December 2026 with 5 years: everything dated before 1 September 2021). Each context
deletes its own rows (`<context>/retention.py`); a purge that removed anything writes one audit
entry with the counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from backend.audit import retention as audit_retention
from backend.audit.services import record
from backend.core.context import Actor
from backend.core.db import transaction
from backend.core.storage import Storage
from backend.events import retention as events_retention
from backend.journal import retention as journal_retention
from backend.messaging import retention as messaging_retention
from backend.settings import Settings


@dataclass(frozen=True, slots=True)
class Cutoffs:
    journal: date  # lesson dates before it go
    final_marks: date
    deliveries: datetime
    audit: datetime


def _years_back(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def school_year_start(today: date) -> date:
    return date(today.year if today.month >= 9 else today.year - 1, 9, 1)


def cutoffs(settings: Settings, now: datetime) -> Cutoffs:
    start = school_year_start(now.astimezone(UTC).date())
    return Cutoffs(
        journal=_years_back(start, settings.retention_journal_years),
        final_marks=_years_back(start, settings.retention_final_marks_years),
        deliveries=now - timedelta(days=settings.retention_deliveries_days),
        audit=datetime.combine(
            _years_back(now.astimezone(UTC).date(), settings.retention_audit_years),
            datetime.min.time(),
            tzinfo=UTC,
        ),
    )


async def purge(
    settings: Settings, storage: Storage, *, now: datetime | None = None, dry_run: bool = False
) -> tuple[Cutoffs, dict[str, int]]:
    """Apply every rule; the rows removed (or that would be) per table."""
    limits = cutoffs(settings, now or datetime.now(UTC))
    counts: dict[str, int] = {}
    counts.update(
        await journal_retention.purge(limits.journal, limits.final_marks, storage, dry_run=dry_run)
    )
    counts.update(await messaging_retention.purge(limits.deliveries, dry_run=dry_run))
    counts.update(await events_retention.purge(limits.deliveries, dry_run=dry_run))
    counts.update(await audit_retention.purge(limits.audit, dry_run=dry_run))
    if not dry_run and any(counts.values()):
        async with transaction():
            await record(
                Actor.system(),
                "retention.purged",
                object_type="retention",
                details={
                    "journal_before": limits.journal.isoformat(),
                    "final_marks_before": limits.final_marks.isoformat(),
                    "deliveries_before": limits.deliveries.isoformat(),
                    "audit_before": limits.audit.isoformat(),
                    "rows": {k: v for k, v in counts.items() if v},
                },
            )
    return limits, counts
