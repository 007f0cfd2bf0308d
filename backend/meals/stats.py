"""Figures of the ledger for the operators' metrics (`backend.ops.metrics`): every transfer
debits one account and credits another by the same amount, so the sums of all accounts'
debits and credits are equal; a difference means the books were changed outside the ledger."""

from __future__ import annotations

from backend.meals.tables import LedgerAccount


async def imbalance() -> dict[str, int]:
    """Debits minus credits over all accounts: posted, and pending (holds)."""
    rows = await LedgerAccount.raw(
        'SELECT COALESCE(SUM("debits_posted"), 0) - COALESCE(SUM("credits_posted"), 0) '
        'AS "posted", COALESCE(SUM("debits_pending"), 0) - COALESCE(SUM("credits_pending"), 0) '
        'AS "pending" '
        'FROM "ledger_account"'
    )
    return {"posted": int(rows[0]["posted"]), "pending": int(rows[0]["pending"])}
