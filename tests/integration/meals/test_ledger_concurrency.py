"""Concurrent operations on one pupil's account, on PostgreSQL (SQLite serialises writers, so
the race this looks for cannot happen there).

Each round (`LEDGER_CONCURRENT_ROUNDS`, 5 by default, each with its own random mix and seed)
starts over a hundred operations at once on one account of a school of its own: orders that
together ask for more than it holds, a post and a void racing for each of several holds,
refunds that together exceed their top-up, a correction of that top-up racing with them,
refunds held for a card provider and then posted or voided, retries of one top-up under one
idempotency key. Afterwards the books must balance, each account must equal the replay of its
entries, available money must not pass the overdraft limit, each hold must be resolved
exactly once and the refunds must not exceed the payment.
"""

from __future__ import annotations

import asyncio
import os
import random
from typing import Any

import pytest

from backend.core.context import Actor
from backend.core.errors import Conflict, ValidationFailed
from backend.meals import ledger
from backend.meals.ledger import AccountKind, Status, TransferKind
from backend.meals.tables import LedgerTransfer
from tests.conftest import Backend

SYSTEM = Actor.system()
SCHOOL = 4242
ROUNDS = int(os.environ.get("LEDGER_CONCURRENT_ROUNDS", "5"))


async def _round(seed: int) -> int:
    """One round on a school of its own; returns how many operations ran at once."""
    rng = random.Random(seed)
    school = SCHOOL + seed
    overdraft = rng.choice([0, 2_000])
    pupil = await ledger.book_account(
        AccountKind.PUPIL, school, student_id=school, overdraft_limit=overdraft
    )
    clearing = await ledger.book_account(AccountKind.PROVIDER_CLEARING, school)
    caterer = await ledger.book_account(AccountKind.CATERER_PAYABLE, school, caterer_id=1)
    budget = await ledger.book_account(AccountKind.BENEFIT_BUDGET, school)
    top_ups = [
        await ledger.transfer(
            SYSTEM,
            debit=clearing,
            credit=pupil,
            amount=amount,
            kind=TransferKind.TOP_UP,
            key=f"conc-{seed}-top-up-{i}",
            school_id=school,
        )
        for i, amount in enumerate((30_000, 8_000))
    ]
    holds = [
        await ledger.transfer(
            SYSTEM,
            debit=pupil,
            credit=caterer,
            amount=rng.randint(200, 800),
            kind=TransferKind.MEAL_ORDER,
            key=f"conc-{seed}-hold-{i}",
            school_id=school,
            pending=True,
        )
        for i in range(rng.randint(10, 20))
    ]
    refund_holds = [
        await ledger.refund(
            SYSTEM, top_ups[1]["id"], 1_000, key=f"conc-{seed}-held-refund-{i}", pending=True
        )
        for i in range(3)
    ]
    operations: list[Any] = []
    for i in range(rng.randint(50, 70)):  # orders asking for more than is left
        operations.append(
            ledger.transfer(
                SYSTEM,
                debit=pupil,
                credit=caterer,
                amount=rng.randint(100, 1_000),
                kind=TransferKind.MEAL_ORDER,
                key=f"conc-{seed}-order-{i}",
                school_id=school,
                pending=True,
            )
        )
    for i in range(rng.randint(5, 15)):  # benefit meals: the school's budget, never the pupil
        operations.append(
            ledger.transfer(
                SYSTEM,
                debit=budget,
                credit=caterer,
                amount=rng.randint(100, 1_000),
                kind=TransferKind.BENEFIT_MEAL,
                key=f"conc-{seed}-benefit-{i}",
                school_id=school,
                pending=rng.random() < 0.5,
            )
        )
    for hold in holds + refund_holds:  # a post and a void race for each hold
        operations.append(ledger.resolve(SYSTEM, hold["id"], post=True))
        operations.append(ledger.resolve(SYSTEM, hold["id"], post=False))
    for i in range(rng.randint(15, 25)):  # refunds asking for more than the first top-up
        operations.append(
            ledger.refund(SYSTEM, top_ups[0]["id"], 2_000, key=f"conc-{seed}-refund-{i}")
        )
    operations.append(ledger.reverse(SYSTEM, top_ups[0]["id"], reason="Ошибка кассира"))
    for _ in range(10):  # retries of one top-up
        operations.append(
            ledger.transfer(
                SYSTEM,
                debit=clearing,
                credit=pupil,
                amount=7_000,
                kind=TransferKind.TOP_UP,
                key=f"conc-{seed}-retried-top-up",
                school_id=school,
            )
        )
    rng.shuffle(operations)
    assert len(operations) >= 100
    results = await asyncio.gather(*operations, return_exceptions=True)

    unexpected = [r for r in results if isinstance(r, BaseException)]
    unexpected = [r for r in unexpected if not isinstance(r, Conflict | ValidationFailed)]
    assert not unexpected, (seed, unexpected)
    refused = sum(isinstance(r, Conflict | ValidationFailed) for r in results)
    assert refused > 0  # the operations asked for more than there was: some must be refused

    check = await ledger.check_books(school)
    assert check.ok, (seed, check)
    balance = await ledger.account_balance(pupil)
    assert balance.available >= -overdraft
    rows = await LedgerTransfer.select().where(LedgerTransfer.school == school)
    for hold in holds + refund_holds:
        resolutions = [r for r in rows if r["pending_id"] == hold["id"]]
        assert len(resolutions) == 1, f"hold {hold['id']} resolved {len(resolutions)} times"
    voided = {r["pending_id"] for r in rows if r["status"] == Status.VOIDED}
    for top_up in top_ups:
        refunded = sum(
            r["amount"] for r in rows if r["refund_of"] == top_up["id"] and r["id"] not in voided
        )
        assert refunded <= top_up["amount"]
    reversed_ = [r for r in rows if r["reverses_id"] == top_ups[0]["id"]]
    refunds_of_first = [r for r in rows if r["refund_of"] == top_ups[0]["id"]]
    assert len(reversed_) <= 1 and not (reversed_ and refunds_of_first), seed
    retried = [r for r in rows if r["idempotency_key"] == f"conc-{seed}-retried-top-up"]
    assert len(retried) == 1
    # The replay of every entry of the pupil's account is its balance.
    replayed = ledger.balance_of(AccountKind.PUPIL, await ledger.replay(pupil))
    assert replayed == balance
    return len(operations)


async def test_concurrent_operations_on_one_account(world: Backend) -> None:
    if world.kind != "postgres":
        pytest.skip("concurrent writers race on PostgreSQL only; SQLite serialises them")
    counts = [await _round(seed) for seed in range(ROUNDS)]
    assert len(counts) == ROUNDS and min(counts) >= 100
