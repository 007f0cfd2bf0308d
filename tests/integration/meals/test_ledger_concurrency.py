"""Concurrent operations on one pupil's account, on PostgreSQL (SQLite serialises writers, so
the race this looks for cannot happen there).

Over a hundred operations start at once on one account: orders that together ask for more than
it holds, a post and a void racing for each of several holds, refunds that together exceed their
top-up, and retries of one top-up under one idempotency key. Afterwards the books must balance,
each account must equal the replay of its entries, available money must not pass the overdraft
limit, each hold must be resolved exactly once and the refunds must not exceed the payment.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from backend.core.context import Actor
from backend.core.errors import Conflict, ValidationFailed
from backend.meals import ledger
from backend.meals.ledger import AccountKind, TransferKind
from backend.meals.tables import LedgerTransfer
from tests.conftest import Backend

SYSTEM = Actor.system()
SCHOOL = 4242
OVERDRAFT = 2_000


async def test_concurrent_operations_on_one_account(world: Backend) -> None:
    if world.kind != "postgres":
        pytest.skip("concurrent writers race on PostgreSQL only; SQLite serialises them")
    pupil = await ledger.book_account(
        AccountKind.PUPIL, SCHOOL, student_id=1, overdraft_limit=OVERDRAFT
    )
    clearing = await ledger.book_account(AccountKind.PROVIDER_CLEARING, SCHOOL)
    caterer = await ledger.book_account(AccountKind.CATERER_PAYABLE, SCHOOL, caterer_id=1)
    top_up = await ledger.transfer(
        SYSTEM,
        debit=clearing,
        credit=pupil,
        amount=30_000,
        kind=TransferKind.TOP_UP,
        key="conc-top-up",
        school_id=SCHOOL,
    )
    holds = [
        await ledger.transfer(
            SYSTEM,
            debit=pupil,
            credit=caterer,
            amount=500,
            kind=TransferKind.MEAL_ORDER,
            key=f"conc-hold-{i}",
            school_id=SCHOOL,
            pending=True,
        )
        for i in range(15)
    ]
    rng = random.Random(15)
    operations: list[Any] = []
    for i in range(60):  # orders asking for ~33,000 in all; 22,500 + 2,000 overdraft is left
        operations.append(
            ledger.transfer(
                SYSTEM,
                debit=pupil,
                credit=caterer,
                amount=rng.randint(100, 1_000),
                kind=TransferKind.MEAL_ORDER,
                key=f"conc-order-{i}",
                school_id=SCHOOL,
                pending=True,
            )
        )
    for hold in holds:  # a post and a void race for each hold
        operations.append(ledger.resolve(SYSTEM, hold["id"], post=True))
        operations.append(ledger.resolve(SYSTEM, hold["id"], post=False))
    for i in range(20):  # refunds asking for 40,000 of a 30,000 top-up
        operations.append(ledger.refund(SYSTEM, top_up["id"], 2_000, key=f"conc-refund-{i}"))
    for _ in range(10):  # retries of one top-up
        operations.append(
            ledger.transfer(
                SYSTEM,
                debit=clearing,
                credit=pupil,
                amount=7_000,
                kind=TransferKind.TOP_UP,
                key="conc-retried-top-up",
                school_id=SCHOOL,
            )
        )
    rng.shuffle(operations)
    assert len(operations) >= 100
    results = await asyncio.gather(*operations, return_exceptions=True)

    unexpected = [r for r in results if isinstance(r, BaseException)]
    unexpected = [r for r in unexpected if not isinstance(r, Conflict | ValidationFailed)]
    assert not unexpected, unexpected
    refused = sum(isinstance(r, Conflict | ValidationFailed) for r in results)
    assert refused > 0  # the operations asked for more than there was: some must be refused

    check = await ledger.check_books(SCHOOL)
    assert check.ok, check
    balance = await ledger.account_balance(pupil)
    assert balance.available >= -OVERDRAFT
    rows = await LedgerTransfer.select().where(LedgerTransfer.school == SCHOOL)
    for hold in holds:
        resolutions = [r for r in rows if r["pending_id"] == hold["id"]]
        assert len(resolutions) == 1, f"hold {hold['id']} resolved {len(resolutions)} times"
    refunded = sum(r["amount"] for r in rows if r["refund_of"] == top_up["id"])
    assert refunded <= top_up["amount"]
    retried = [r for r in rows if r["idempotency_key"] == "conc-retried-top-up"]
    assert len(retried) == 1
    # The replay of every entry of the pupil's account is its balance.
    replayed = ledger.balance_of(AccountKind.PUPIL, await ledger.replay(pupil))
    assert replayed == balance
