"""The meals ledger under random sequences of operations (hypothesis, stateful).

Each sequence runs on a school of its own in an SQLite database of this test: top-ups (some
repeated with the same idempotency key), orders (holds), cancellations (voids), cut-offs and
servings (posts), benefit meals, refunds (at once, or held while a card provider answers and
then posted or voided) and corrections, in any order. A model of the expected
balances decides, before each operation, whether it must succeed or be refused; after each one
the ledger's balances must equal the model's, and at the end of each sequence the books must
balance (debits = credits), each account must equal the replay of its entries, no pupil may be
past the overdraft limit, no hold resolved twice and no top-up refunded beyond its amount.
The same operations run concurrently on PostgreSQL in test_ledger_concurrency.py.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from piccolo.engine.sqlite import SQLiteEngine

from backend import bootstrap
from backend.core import db
from backend.core.context import Actor
from backend.core.errors import Conflict, DomainError, ValidationFailed
from backend.meals import ledger
from backend.meals.ledger import AccountKind, TransferKind
from backend.meals.tables import LedgerAccount, LedgerTransfer

pytestmark = pytest.mark.integration

T = TypeVar("T")
SYSTEM = Actor.system()
EXAMPLES = int(__import__("os").environ.get("LEDGER_EXAMPLES", "1000"))
STEPS = 10
_schools = itertools.count(1_000_000)
_keys = itertools.count(1)


@dataclass
class Hold:
    id: int
    pupil: int
    amount: int
    state: str = "pending"


@dataclass
class RefundHold:
    """A card refund held while the payment provider answers."""

    id: int
    top_up: Posted
    amount: int
    state: str = "pending"


@dataclass
class Posted:
    """A posted row the model may try to reverse."""

    id: int
    debit: int
    credit: int
    amount: int
    kind: str
    reversed: bool = False
    refunded: int = 0


class LedgerMachine(RuleBasedStateMachine):
    loop: asyncio.AbstractEventLoop
    sequences = 0  # how many sequences ran (checked against EXAMPLES after the run)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    @initialize(overdraft=st.sampled_from([0, 0, 3000]))
    def open_books(self, overdraft: int) -> None:
        # The whole sequence runs in one transaction on one connection, rolled back at its end:
        # the services' own transactions join it (a new SQLite connection per call would cost
        # ~4 ms, a thousand sequences several minutes). A refused operation writes nothing
        # before it is refused, which the model checks step by step.
        LedgerMachine.sequences += 1
        engine = db.current_engine()
        self.outer = engine.transaction()
        self.run(self.outer.__aenter__())
        self.token = engine.current_transaction.set(self.outer)  # seen by every later step
        self.school = next(_schools)
        self.overdraft = overdraft
        self.pupils = [
            self.run(
                ledger.book_account(
                    AccountKind.PUPIL,
                    self.school,
                    student_id=self.school * 10 + i,
                    overdraft_limit=overdraft,
                )
            )
            for i in range(2)
        ]
        self.clearing = self.run(ledger.book_account(AccountKind.PROVIDER_CLEARING, self.school))
        self.caterer = self.run(
            ledger.book_account(AccountKind.CATERER_PAYABLE, self.school, caterer_id=1)
        )
        self.budget = self.run(ledger.book_account(AccountKind.BENEFIT_BUDGET, self.school))
        self.posted = {p: 0 for p in self.pupils}
        self.held = {p: 0 for p in self.pupils}
        self.holds: list[Hold] = []
        self.refund_holds: list[RefundHold] = []
        self.rows: list[Posted] = []
        self.last_key: tuple[str, int, int] | None = None

    # ---- helpers -----------------------------------------------------------------------------

    def available(self, pupil: int) -> int:
        return self.posted[pupil] - self.held[pupil]

    def can_spend(self, pupil: int, amount: int) -> bool:
        return self.available(pupil) - amount >= -self.overdraft

    def refused(self, expected: type[DomainError], coro: Coroutine[Any, Any, Any]) -> None:
        with pytest.raises(expected):
            self.run(coro)

    def move(self, account: int, amount: int) -> None:
        """A posted amount into (+) or out of (-) a pupil's account, in the model."""
        if account in self.posted:
            self.posted[account] += amount

    # ---- operations --------------------------------------------------------------------------

    @rule(i=st.integers(0, 1), amount=st.integers(1, 50_000))
    def top_up(self, i: int, amount: int) -> None:
        pupil = self.pupils[i]
        key = f"top-up-{next(_keys)}"
        row = self.run(
            ledger.transfer(
                SYSTEM,
                debit=self.clearing,
                credit=pupil,
                amount=amount,
                kind=TransferKind.TOP_UP,
                key=key,
                school_id=self.school,
            )
        )
        self.move(pupil, amount)
        self.rows.append(Posted(row["id"], self.clearing, pupil, amount, "top_up"))
        self.last_key = (key, pupil, amount)

    @precondition(lambda self: self.last_key is not None)
    @rule()
    def repeat_top_up(self) -> None:
        """A retried request (the same idempotency key) returns the first row, moves nothing."""
        assert self.last_key is not None
        key, pupil, amount = self.last_key
        row = self.run(
            ledger.transfer(
                SYSTEM,
                debit=self.clearing,
                credit=pupil,
                amount=amount,
                kind=TransferKind.TOP_UP,
                key=key,
                school_id=self.school,
            )
        )
        assert row["idempotency_key"] == key

    @rule(i=st.integers(0, 1), amount=st.integers(1, 30_000))
    def order(self, i: int, amount: int) -> None:
        pupil = self.pupils[i]
        call = ledger.transfer(
            SYSTEM,
            debit=pupil,
            credit=self.caterer,
            amount=amount,
            kind=TransferKind.MEAL_ORDER,
            key=f"order-{next(_keys)}",
            school_id=self.school,
            pending=True,
        )
        if not self.can_spend(pupil, amount):
            self.refused(Conflict, call)
            return
        row = self.run(call)
        self.held[pupil] += amount
        self.holds.append(Hold(row["id"], pupil, amount))

    def _resolve(self, index: int, post: bool) -> None:
        hold = self.holds[index % len(self.holds)]
        wanted = "posted" if post else "voided"
        call = ledger.resolve(SYSTEM, hold.id, post=post)
        if hold.state not in ("pending", wanted):
            self.refused(Conflict, call)
            return
        row = self.run(call)
        assert row["status"] == wanted and row["pending_id"] == hold.id
        if hold.state == "pending":
            self.held[hold.pupil] -= hold.amount
            if post:
                self.move(hold.pupil, -hold.amount)
                self.rows.append(
                    Posted(row["id"], hold.pupil, self.caterer, hold.amount, "meal_order")
                )
            hold.state = wanted

    @precondition(lambda self: self.holds)
    @rule(index=st.integers(0, 1000))
    def cancel(self, index: int) -> None:
        self._resolve(index, post=False)

    @precondition(lambda self: self.holds)
    @rule(index=st.integers(0, 1000))
    def cut_off(self, index: int) -> None:
        """The cut-off (or the serving) posts the hold."""
        self._resolve(index, post=True)

    @rule(amount=st.integers(1, 20_000))
    def serve_benefit_meal(self, amount: int) -> None:
        row = self.run(
            ledger.transfer(
                SYSTEM,
                debit=self.budget,
                credit=self.caterer,
                amount=amount,
                kind=TransferKind.BENEFIT_MEAL,
                key=f"benefit-{next(_keys)}",
                school_id=self.school,
            )
        )
        self.rows.append(Posted(row["id"], self.budget, self.caterer, amount, "benefit_meal"))

    @precondition(lambda self: any(r.kind == "top_up" for r in self.rows))
    @rule(index=st.integers(0, 1000), amount=st.integers(1, 60_000))
    def refund(self, index: int, amount: int) -> None:
        top_ups = [r for r in self.rows if r.kind == "top_up"]
        top_up = top_ups[index % len(top_ups)]
        call = ledger.refund(SYSTEM, top_up.id, amount, key=f"refund-{next(_keys)}")
        if top_up.reversed:
            self.refused(Conflict, call)
        elif amount > top_up.amount - top_up.refunded:
            self.refused(ValidationFailed, call)
        elif not self.can_spend(top_up.credit, amount):
            self.refused(Conflict, call)
        else:
            row = self.run(call)
            top_up.refunded += amount
            self.move(top_up.credit, -amount)
            self.rows.append(Posted(row["id"], top_up.credit, top_up.debit, amount, "refund"))

    @precondition(lambda self: any(r.kind == "top_up" for r in self.rows))
    @rule(index=st.integers(0, 1000), amount=st.integers(1, 60_000))
    def card_refund(self, index: int, amount: int) -> None:
        """A refund to the card: held in the ledger until the provider answers."""
        top_ups = [r for r in self.rows if r.kind == "top_up"]
        top_up = top_ups[index % len(top_ups)]
        call = ledger.refund(SYSTEM, top_up.id, amount, key=f"card-{next(_keys)}", pending=True)
        if top_up.reversed:
            self.refused(Conflict, call)
        elif amount > top_up.amount - top_up.refunded:
            self.refused(ValidationFailed, call)
        elif not self.can_spend(top_up.credit, amount):
            self.refused(Conflict, call)
        else:
            row = self.run(call)
            assert row["status"] == "pending" and row["refund_of"] == top_up.id
            top_up.refunded += amount
            self.held[top_up.credit] += amount
            self.refund_holds.append(RefundHold(row["id"], top_up, amount))

    @precondition(lambda self: any(h.state == "pending" for h in self.refund_holds))
    @rule(index=st.integers(0, 1000), succeeded=st.booleans())
    def provider_answers_refund(self, index: int, succeeded: bool) -> None:
        """The provider's word: succeeded posts the held refund, canceled voids it (and gives
        the top-up's refundable rest back)."""
        pending = [h for h in self.refund_holds if h.state == "pending"]
        hold = pending[index % len(pending)]
        row = self.run(ledger.resolve(SYSTEM, hold.id, post=succeeded))
        pupil = hold.top_up.credit
        self.held[pupil] -= hold.amount
        if succeeded:
            self.move(pupil, -hold.amount)
            hold.state = "posted"
            self.rows.append(Posted(row["id"], pupil, hold.top_up.debit, hold.amount, "refund"))
        else:
            hold.top_up.refunded -= hold.amount
            hold.state = "voided"

    @precondition(lambda self: self.rows)
    @rule(index=st.integers(0, 1000))
    def correct(self, index: int) -> None:
        original = self.rows[index % len(self.rows)]
        call = ledger.reverse(SYSTEM, original.id, reason="Ошибка ввода")
        if (
            original.kind == "correction"
            or original.reversed
            or (original.kind == "top_up" and original.refunded)
            or (
                original.credit in self.posted
                and not self.can_spend(original.credit, original.amount)
            )
        ):
            self.refused(Conflict, call)
        else:
            row = self.run(call)
            original.reversed = True
            self.move(original.credit, -original.amount)
            self.move(original.debit, original.amount)
            self.rows.append(
                Posted(row["id"], original.credit, original.debit, original.amount, "correction")
            )

    # ---- what must always hold -----------------------------------------------------------------

    @invariant()
    def balances_match_the_model(self) -> None:
        if not hasattr(self, "pupils"):
            return
        rows = self.run(LedgerAccount.select().where(LedgerAccount.id.is_in(self.pupils)))
        for row in rows:
            pupil = row["id"]
            balance = ledger.balance_of(row["kind"], row)
            assert balance.posted == self.posted[pupil]
            assert balance.held == self.held[pupil]
            assert balance.available >= -self.overdraft

    def teardown(self) -> None:
        if not hasattr(self, "pupils"):
            return
        try:
            self.check_books()
        finally:
            self.run(self.outer.rollback())
            self.run(self.outer.connection.close())
            db.current_engine().current_transaction.reset(self.token)

    def check_books(self) -> None:
        check = self.run(ledger.check_books(self.school))
        assert check.ok, check
        rows = self.run(
            LedgerTransfer.select(
                LedgerTransfer.id,
                LedgerTransfer.pending_id,
                LedgerTransfer.refund_of,
                LedgerTransfer.amount,
            ).where(LedgerTransfer.school == self.school)
        )
        resolutions = [r["pending_id"] for r in rows if r["pending_id"] is not None]
        assert len(resolutions) == len(set(resolutions)), "a hold resolved twice"
        voided = {h.id for h in self.refund_holds if h.state == "voided"}
        refunded: dict[int, int] = {}
        for r in rows:
            if r["refund_of"] is not None and r["id"] not in voided:
                refunded[r["refund_of"]] = refunded.get(r["refund_of"], 0) + r["amount"]
        amounts = {row.id: row.amount for row in self.rows if row.kind == "top_up"}
        for top_up_id, total in refunded.items():
            assert total <= amounts[top_up_id], "refunds exceed the payment"


class OneConnectionEngine(SQLiteEngine):
    """Piccolo's SQLite engine, minus the `PRAGMA foreign_keys` it sends before every query on
    an open connection (set once when the sequence's connection opens): a third of the
    thread hand-offs of this test. Queries, transactions and triggers are Piccolo's and
    SQLite's own."""

    async def _run_in_existing_connection(
        self,
        connection: Any,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: Any = None,
    ) -> Any:
        async with connection.execute(query, args or []) as cursor:
            return await cursor.fetchall()


def test_random_sequences_keep_the_books(tmp_path: Path) -> None:
    """At least 1,000 random sequences (EXAMPLES), each checked step by step and at its end."""
    loop = asyncio.new_event_loop()
    previous = db._engine
    engine = OneConnectionEngine(path=str(tmp_path / "ledger.sqlite"), timeout=30)

    async def prepare() -> None:
        await engine.run_ddl("PRAGMA journal_mode=WAL")
        await bootstrap.create_tables(engine)

    loop.run_until_complete(prepare())
    LedgerMachine.loop = loop
    LedgerMachine.sequences = 0
    try:
        run_state_machine_as_test(
            LedgerMachine,
            settings=settings(
                max_examples=EXAMPLES,
                stateful_step_count=STEPS,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            ),
        )
    finally:
        loop.close()
        if previous is not None:
            db.bind_engine(previous, bootstrap.all_tables())
    # Hypothesis ran the sequences asked for, not fewer (each opens its books once).
    assert LedgerMachine.sequences >= EXAMPLES, LedgerMachine.sequences
