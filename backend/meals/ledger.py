"""The meals ledger: double-entry transfers between book accounts, in integer kopecks.

Every movement of money is one `LedgerTransfer` row (debit account, credit account, amount),
never changed afterwards (decision 0800). A hold is a `pending` transfer; the cut-off or the
serving posts it and a cancellation voids it, each by a new row naming the hold (`pending_id`,
unique: a hold resolves at most once). A correction is a new row reversing a posted one
(`reverses_id`, unique). Each account keeps four running totals (pending and posted on each side),
updated in the transaction that adds the row, under a lock of both accounts taken in id order:
the pupil's available money is checked against the overdraft limit under that lock, so
concurrent orders cannot overspend.

Functions here trust their caller on rights (the services check who asks) but validate money.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from piccolo.engine.postgres import PostgresEngine
from piccolo.table import Table

from backend.audit.services import Entry, record
from backend.core.context import Actor
from backend.core.db import before_commit_hooks, current_engine, transaction
from backend.core.errors import Conflict, NotFound, ValidationFailed
from backend.events import kinds
from backend.events.services import emit
from backend.meals.tables import LedgerAccount, LedgerTransfer, PupilAccount

MAX_AMOUNT = 100_000_000  # one million roubles in kopecks: more is a typing error
LOW_BALANCE_EVENT = kinds.MEALS_LOW_BALANCE


class AccountKind(StrEnum):
    PUPIL = "pupil"  # the family's money for one pupil
    PROVIDER_CLEARING = "provider_clearing"  # collected by the payment provider for the school
    CASH_DESK = "cash_desk"  # cash taken at the school's office
    CATERER_PAYABLE = "caterer_payable"  # what the school owes a caterer
    BENEFIT_BUDGET = "benefit_budget"  # meals the budget pays for (benefit pupils)


# Accounts whose balance grows on the credit side (money held for someone / owed to someone).
CREDIT_NORMAL = frozenset({AccountKind.PUPIL, AccountKind.CATERER_PAYABLE})


class TransferKind(StrEnum):
    TOP_UP = "top_up"
    REFUND = "refund"
    MEAL_ORDER = "meal_order"
    BENEFIT_MEAL = "benefit_meal"
    BUFFET = "buffet"
    CORRECTION = "correction"


class Status(StrEnum):
    PENDING = "pending"
    POSTED = "posted"
    VOIDED = "voided"


@dataclass(frozen=True, slots=True)
class Balance:
    """posted: what the account holds; held: set aside for pending transfers out of it;
    available: what may still be spent (posted - held)."""

    posted: int
    held: int
    available: int


@dataclass(frozen=True, slots=True)
class Totals:
    debits_pending: int = 0
    debits_posted: int = 0
    credits_pending: int = 0
    credits_posted: int = 0


def balance_of(kind: str, totals: Totals | dict[str, Any]) -> Balance:
    t = totals if isinstance(totals, Totals) else Totals(**{k: totals[k] for k in _TOTALS})
    if kind in CREDIT_NORMAL:
        posted, held = t.credits_posted - t.debits_posted, t.debits_pending
    else:
        posted, held = t.debits_posted - t.credits_posted, t.credits_pending
    return Balance(posted=posted, held=held, available=posted - held)


_TOTALS = ("debits_pending", "debits_posted", "credits_pending", "credits_posted")


# ---- accounts --------------------------------------------------------------------------------


def account_code(
    kind: AccountKind,
    school_id: int,
    *,
    student_id: int | None = None,
    caterer_id: int | None = None,
) -> str:
    if kind is AccountKind.PUPIL:
        return f"pupil:{student_id}"
    if kind is AccountKind.CATERER_PAYABLE:
        return f"school:{school_id}:caterer:{caterer_id}"
    return f"school:{school_id}:{kind.value}"


async def book_account(
    kind: AccountKind,
    school_id: int,
    *,
    student_id: int | None = None,
    caterer_id: int | None = None,
    overdraft_limit: int = 0,
) -> int:
    """The id of the account, opened on first use (safe when two open it at once)."""
    code = account_code(kind, school_id, student_id=student_id, caterer_id=caterer_id)
    row = await LedgerAccount.select(LedgerAccount.id).where(LedgerAccount.code == code).first()
    if row is not None:
        return int(row["id"])
    await LedgerAccount.insert(
        LedgerAccount(
            code=code,
            kind=kind.value,
            school=school_id,
            student=student_id,
            caterer=caterer_id,
            overdraft_limit=overdraft_limit,
            created_at=datetime.now(UTC),
        )
    ).on_conflict(action="DO NOTHING")
    row = await LedgerAccount.select(LedgerAccount.id).where(LedgerAccount.code == code).first()
    assert row is not None
    return int(row["id"])


async def account_row(account_id: int) -> dict[str, Any]:
    row = await LedgerAccount.select().where(LedgerAccount.id == account_id).first()
    if row is None:
        raise NotFound()
    return row


async def account_balance(account_id: int) -> Balance:
    row = await account_row(account_id)
    return balance_of(row["kind"], row)


async def _lock(account_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Read the accounts, locking the pupils' ones (in id order, so two transfers never wait
    on each other in a circle): their limit is checked under the lock. A school's accounts
    (what it owes a caterer, its benefit budget, ...) are in every order of the school and
    have no limit: they are not locked here, and their totals are moved just before the
    commit (`_move_totals`), so orders of one school do not queue behind each other's whole
    transactions. On SQLite the transaction already holds the database's write lock."""
    ids = sorted(set(account_ids))
    # With the guardian's low-balance threshold of a pupil's account (`_alert_low_balance`).
    if isinstance(current_engine(), PostgresEngine):
        found = await LedgerAccount.raw(
            "WITH locked AS (SELECT * FROM ledger_account WHERE id = ANY({}) AND kind = 'pupil' "
            "ORDER BY id FOR UPDATE) SELECT l.*, p.low_balance_threshold FROM locked l "
            "LEFT JOIN pupil_account p ON p.ledger_account = l.id UNION ALL "
            "SELECT *, NULL FROM ledger_account WHERE id = ANY({}) AND kind <> 'pupil'",
            ids,
            ids,
        )
    else:
        pair = (ids * 2)[:2]  # a transfer's two accounts (one text: one prepared statement)
        assert len(ids) <= 2, "a transfer moves money between two accounts"
        found = await LedgerAccount.raw(
            "SELECT a.*, p.low_balance_threshold FROM ledger_account a LEFT JOIN pupil_account p "
            "ON p.ledger_account = a.id AND a.kind = 'pupil' WHERE a.id IN ({}, {})",
            *pair,
        )
    rows = {row["id"]: dict(row) for row in found}
    if len(rows) != len(ids):
        raise NotFound()
    return rows


# ---- transfers -------------------------------------------------------------------------------


def _check_amount(amount: int) -> None:
    if not 0 < amount <= MAX_AMOUNT:
        raise ValidationFailed(key="meals.amount_invalid", max=MAX_AMOUNT // 100)


def _check_limit(account: dict[str, Any], amount: int) -> None:
    """A pupil's available money may not pass below minus the school's overdraft limit."""
    if account["kind"] != AccountKind.PUPIL:
        return
    balance = balance_of(account["kind"], account)
    if balance.available - amount < -account["overdraft_limit"]:
        raise Conflict(
            key="meals.insufficient_funds",
            details={"available": balance.available, "amount": amount},
            available=_rub(balance.available),
            amount=_rub(amount),
        )


def _rub(kopecks: int) -> str:
    sign = "-" if kopecks < 0 else ""
    whole, part = divmod(abs(kopecks), 100)
    return f"{sign}{whole},{part:02d}"


rub = _rub  # kopecks as a person reads roubles: 12345 -> "123,45"


async def _by_key(key: str) -> dict[str, Any] | None:
    row: dict[str, Any] | None = (
        await LedgerTransfer.select().where(LedgerTransfer.idempotency_key == key).first()
    )
    return row


async def transfer_row(transfer_id: int) -> dict[str, Any]:
    row = await LedgerTransfer.select().where(LedgerTransfer.id == transfer_id).first()
    if row is None:
        raise NotFound()
    return row


def _same(row: dict[str, Any], debit: int, credit: int, amount: int, kind: str) -> dict[str, Any]:
    """A repeated request with the same idempotency key: the first answer, if it asked the
    same; a different request under a used key is refused."""
    if (row["debit_account"], row["credit_account"], row["amount"], row["kind"]) != (
        debit,
        credit,
        amount,
        kind,
    ):
        raise Conflict(key="meals.idempotency_mismatch")
    return row


async def _insert(
    actor: Actor,
    locked: dict[int, dict[str, Any]],
    *,
    debit: int,
    credit: int,
    amount: int,
    status: Status,
    kind: str,
    key: str,
    school_id: int,
    pending_id: int | None = None,
    reverses_id: int | None = None,
    refund_of: int | None = None,
    reference: str = "",
    reason: str = "",
    audit: list[Entry] | None = None,
) -> dict[str, Any]:
    """Add one row and move the running totals; the accounts are locked by the caller.
    `audit`: the caller writes the audit entry (appended here) with its own."""
    values: dict[str, Any] = {
        "debit_account": debit,
        "credit_account": credit,
        "amount": amount,
        "status": status.value,
        "kind": kind,
        "pending_id": pending_id,
        "reverses_id": reverses_id,
        "refund_of": refund_of,
        "idempotency_key": key,
        "school": school_id,
        "reference": reference,
        "reason": reason,
        "created_by": actor.user_id,
        "created_at": datetime.now(UTC),
    }
    transfer_id = await insert_row(LedgerTransfer, values)
    before = {i: balance_of(a["kind"], a) for i, a in locked.items()}
    for account_id, side in ((debit, "debits"), (credit, "credits")):
        changes = _changes(side, status, amount, resolves=pending_id is not None)
        await _move_totals(account_id, locked[account_id]["kind"], changes)
        for column, delta in changes.items():
            locked[account_id][column] += delta
    student_id = locked[debit]["student"] or locked[credit]["student"]
    entry = Entry(
        f"meals.transfer.{status.value}",
        object_type="ledger_transfer",
        object_id=transfer_id,
        school_id=school_id,
        student_id=student_id,
        details={"kind": kind, "amount": amount, "pending_id": pending_id, "reason": reason},
    )
    if audit is not None:
        audit.append(entry)
    else:
        await record(
            actor,
            entry.action,
            object_type=entry.object_type,
            object_id=entry.object_id,
            school_id=entry.school_id,
            student_id=entry.student_id,
            details=entry.details,
        )
    await _alert_low_balance(locked[debit], before[debit], school_id)
    return {"id": transfer_id, **values}


async def _move_totals(account_id: int, kind: str, changes: dict[str, int]) -> None:
    """Move an account's running totals. A pupil's account (locked by `_lock`) at once; a
    school's account just before the transaction commits, all its moves in one UPDATE, the
    accounts in id order (on PostgreSQL: elsewhere at once)."""
    hooks = before_commit_hooks() if kind != AccountKind.PUPIL else None
    if hooks is None:
        await _update_totals(account_id, changes)
        return
    flush = next((h for h in hooks if isinstance(h, _TotalsAtCommit)), None)
    if flush is None:
        flush = _TotalsAtCommit()
        hooks.append(flush)
    moves = flush.moves.setdefault(account_id, dict.fromkeys(_TOTALS, 0))
    for column, delta in changes.items():
        moves[column] += delta


class _TotalsAtCommit:
    """The school accounts' totals a transaction moves, written just before it commits (it
    lives in the transaction's hook list: a rollback drops it with the transaction)."""

    def __init__(self) -> None:
        self.moves: dict[int, dict[str, int]] = {}

    async def __call__(self) -> None:
        for account_id in sorted(self.moves):
            await _update_totals(account_id, self.moves[account_id])


async def _update_totals(account_id: int, changes: dict[str, int]) -> None:
    moves = {c: d for c, d in changes.items() if d}
    if moves:
        assert set(moves) <= set(_TOTALS)  # column names from this module only
        sets = ", ".join(f"{c} = {c} + {{}}" for c in moves)
        await LedgerAccount.raw(
            f"UPDATE ledger_account SET {sets} WHERE id = {{}}",  # noqa: S608
            *moves.values(),
            account_id,
        )


async def insert_row(table: type[Table], values: dict[str, Any]) -> int:
    """Insert one row and give its id, through one raw statement (`RETURNING` works on both
    engines). Piccolo's `insert()` builds a row object and its SQL each time, which was a good
    part of a meal order's CPU (decision 0809). `values`' keys are the table's column names."""
    names = ", ".join(f'"{c}"' for c in values)
    marks = ", ".join("{}" for _ in values)
    rows = await table.raw(
        f'INSERT INTO "{table._meta.tablename}" ({names}) VALUES ({marks}) RETURNING "id"',  # noqa: S608
        *values.values(),
    )
    return int(rows[0]["id"])


def _changes(side: str, status: Status, amount: int, *, resolves: bool) -> dict[str, int]:
    """How one row moves an account's totals on one side."""
    if status is Status.PENDING:
        return {f"{side}_pending": amount}
    if status is Status.VOIDED:
        return {f"{side}_pending": -amount}
    if resolves:  # posting a hold
        return {f"{side}_pending": -amount, f"{side}_posted": amount}
    return {f"{side}_posted": amount}


async def _alert_low_balance(account: dict[str, Any], before: Balance, school_id: int) -> None:
    """When a pupil's available money falls below the guardian's threshold: one event, at the
    crossing (not at every purchase below it)."""
    if account["kind"] != AccountKind.PUPIL:
        return
    after = balance_of(account["kind"], account)
    if after.available >= before.available:
        return
    if "low_balance_threshold" in account:  # read with the lock (`_lock`)
        threshold = account["low_balance_threshold"]
    else:
        row = (
            await PupilAccount.select(PupilAccount.low_balance_threshold)
            .where(PupilAccount.ledger_account == account["id"])
            .first()
        )
        threshold = row["low_balance_threshold"] if row else None
    if threshold is None or not (after.available < threshold <= before.available):
        return
    await emit(
        LOW_BALANCE_EVENT,
        {
            "student_id": account["student"],
            "available": after.available,
            "threshold": threshold,
            # As the text shows them (the worker renders the payload's own strings).
            "available_rub": _rub(after.available),
            "threshold_rub": _rub(threshold),
        },
        school_id=school_id,
        student_id=account["student"],
    )


async def transfer(
    actor: Actor,
    *,
    debit: int,
    credit: int,
    amount: int,
    kind: TransferKind,
    key: str,
    school_id: int,
    pending: bool = False,
    reference: str = "",
    reason: str = "",
    fresh_key: bool = False,
    audit: list[Entry] | None = None,
) -> dict[str, Any]:
    """Move `amount` kopecks (a hold when `pending`). A repeat of `key` returns the first row.
    `fresh_key`: the key names a row the caller's transaction has just made (an order's
    hold), so no earlier transfer can hold it: it is not looked up (the unique index stays).
    `audit`: the audit entry is appended there for the caller to write with its own."""
    _check_amount(amount)
    if debit == credit:
        raise ValidationFailed(key="meals.same_account")
    async with transaction():
        locked = await _lock((debit, credit))
        existing = None if fresh_key else await _by_key(key)
        if existing is not None:
            return _same(existing, debit, credit, amount, kind.value)
        _check_limit(locked[debit], amount)
        return await _insert(
            actor,
            locked,
            debit=debit,
            credit=credit,
            amount=amount,
            status=Status.PENDING if pending else Status.POSTED,
            kind=kind.value,
            key=key,
            school_id=school_id,
            reference=reference,
            reason=reason,
            audit=audit,
        )


async def resolve(actor: Actor, pending_id: int, *, post: bool, reason: str = "") -> dict[str, Any]:
    """Post or void a hold. Doing the same again returns the first result; the opposite of
    what was done is refused (a hold resolves at most once)."""
    wanted = Status.POSTED if post else Status.VOIDED
    async with transaction():
        hold = await transfer_row(pending_id)
        if hold["status"] != Status.PENDING:
            raise Conflict(key="meals.not_a_hold")
        locked = await _lock((hold["debit_account"], hold["credit_account"]))
        done = await LedgerTransfer.select().where(LedgerTransfer.pending_id == pending_id).first()
        if done is not None:
            if done["status"] == wanted:
                return done
            raise Conflict(key=f"meals.hold_already_{done['status']}")
        return await _insert(
            actor,
            locked,
            debit=hold["debit_account"],
            credit=hold["credit_account"],
            amount=hold["amount"],
            status=wanted,
            kind=hold["kind"],
            key=f"{wanted.value}:{pending_id}",
            school_id=hold["school"],
            pending_id=pending_id,
            reference=hold["reference"],
            reason=reason,
        )


async def hold_state(pending_id: int) -> Status:
    """pending, posted or voided: what became of a hold."""
    done = (
        await LedgerTransfer.select(LedgerTransfer.status)
        .where(LedgerTransfer.pending_id == pending_id)
        .first()
    )
    return Status(done["status"]) if done else Status.PENDING


async def reverse(actor: Actor, transfer_id: int, *, reason: str) -> dict[str, Any]:
    """A correction: a new posted row moving the same money back. Only posted rows that are
    not themselves corrections; a top-up part of which was refunded cannot be reversed (refund
    the rest instead)."""
    if not reason.strip():
        raise ValidationFailed(key="meals.reason_required", details={"field": "reason"})
    async with transaction():
        original = await transfer_row(transfer_id)
        if original["status"] != Status.POSTED or original["kind"] == TransferKind.CORRECTION:
            raise Conflict(key="meals.not_reversible")
        locked = await _lock((original["debit_account"], original["credit_account"]))
        existing = await _by_key(f"reverse:{transfer_id}")
        if existing is not None:
            raise Conflict(key="meals.already_reversed")
        if original["kind"] == TransferKind.TOP_UP and await refunded_of(transfer_id):
            raise Conflict(key="meals.top_up_refunded")
        _check_limit(locked[original["credit_account"]], original["amount"])
        return await _insert(
            actor,
            locked,
            debit=original["credit_account"],
            credit=original["debit_account"],
            amount=original["amount"],
            status=Status.POSTED,
            kind=TransferKind.CORRECTION.value,
            key=f"reverse:{transfer_id}",
            school_id=original["school"],
            reverses_id=transfer_id,
            reference=original["reference"],
            reason=reason.strip(),
        )


async def refunded_of(top_up_id: int) -> int:
    """What was given back of a top-up: posted refunds and refunds held while the provider
    answers (a voided refund hold gave nothing back)."""
    rows = await LedgerTransfer.select(LedgerTransfer.id, LedgerTransfer.amount).where(
        LedgerTransfer.refund_of == top_up_id
    )
    if not rows:
        return 0
    voided = await LedgerTransfer.select(LedgerTransfer.pending_id).where(
        LedgerTransfer.pending_id.is_in([r["id"] for r in rows])
        & (LedgerTransfer.status == Status.VOIDED.value)
    )
    gone = {r["pending_id"] for r in voided}
    return sum(int(r["amount"]) for r in rows if r["id"] not in gone)


async def refund(
    actor: Actor,
    top_up_id: int,
    amount: int,
    *,
    key: str,
    reason: str = "",
    pending: bool = False,
) -> dict[str, Any]:
    """Give back part or all of a top-up to where it came from: never more than the top-up,
    and never money already spent or held. `pending`: hold the refund while a payment
    provider carries it out (then `resolve` posts it, or voids it if the provider refuses)."""
    _check_amount(amount)
    async with transaction():
        top_up = await transfer_row(top_up_id)
        if top_up["kind"] != TransferKind.TOP_UP or top_up["status"] != Status.POSTED:
            raise Conflict(key="meals.not_a_top_up")
        pupil, source = top_up["credit_account"], top_up["debit_account"]
        locked = await _lock((pupil, source))
        existing = await _by_key(key)
        if existing is not None:
            return _same(existing, pupil, source, amount, TransferKind.REFUND.value)
        if await _by_key(f"reverse:{top_up_id}") is not None:
            raise Conflict(key="meals.already_reversed")
        left = top_up["amount"] - await refunded_of(top_up_id)
        if amount > left:
            raise ValidationFailed(
                key="meals.refund_exceeds", details={"left": left}, left=_rub(left)
            )
        _check_limit(locked[pupil], amount)
        return await _insert(
            actor,
            locked,
            debit=pupil,
            credit=source,
            amount=amount,
            status=Status.PENDING if pending else Status.POSTED,
            kind=TransferKind.REFUND.value,
            key=key,
            school_id=top_up["school"],
            refund_of=top_up_id,
            reference=top_up["reference"],
            reason=reason,
        )


# ---- checking the books ----------------------------------------------------------------------


async def replay(account_id: int) -> Totals:
    """The account's four totals recomputed from its transfers alone."""
    rows = await LedgerTransfer.select(
        LedgerTransfer.debit_account,
        LedgerTransfer.credit_account,
        LedgerTransfer.amount,
        LedgerTransfer.status,
        LedgerTransfer.pending_id,
    ).where(
        (LedgerTransfer.debit_account == account_id) | (LedgerTransfer.credit_account == account_id)
    )
    sums = dict.fromkeys(_TOTALS, 0)
    for row in rows:
        side = "debits" if row["debit_account"] == account_id else "credits"
        status = Status(row["status"])
        changes = _changes(side, status, row["amount"], resolves=row["pending_id"] is not None)
        for column, delta in changes.items():
            sums[column] += delta
    return Totals(**sums)


@dataclass(frozen=True, slots=True)
class BookCheck:
    """The result of checking a school's books: both sides equal, each account's totals equal
    the replay of its transfers, no pupil past the overdraft limit."""

    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int
    accounts: int
    mismatched_accounts: list[int]
    over_limit_accounts: list[int]

    @property
    def ok(self) -> bool:
        return (
            self.debits_posted == self.credits_posted
            and self.debits_pending == self.credits_pending
            and not self.mismatched_accounts
            and not self.over_limit_accounts
        )


async def check_books(school_id: int) -> BookCheck:
    accounts = await LedgerAccount.select().where(LedgerAccount.school == school_id)
    sums = dict.fromkeys(_TOTALS, 0)
    mismatched, over_limit = [], []
    for account in accounts:
        for column in _TOTALS:
            sums[column] += account[column]
        stored = Totals(**{c: account[c] for c in _TOTALS})
        if stored != await replay(account["id"]):
            mismatched.append(account["id"])
        balance = balance_of(account["kind"], stored)
        if account["kind"] == AccountKind.PUPIL and balance.available < -account["overdraft_limit"]:
            over_limit.append(account["id"])
    return BookCheck(
        debits_posted=sums["debits_posted"],
        credits_posted=sums["credits_posted"],
        debits_pending=sums["debits_pending"],
        credits_pending=sums["credits_pending"],
        accounts=len(accounts),
        mismatched_accounts=mismatched,
        over_limit_accounts=over_limit,
    )


async def set_overdraft_limit(school_id: int, limit: int) -> None:
    """The school's overdraft limit applies to every pupil's account of the school."""
    await LedgerAccount.update({LedgerAccount.overdraft_limit: limit}).where(
        (LedgerAccount.school == school_id) & (LedgerAccount.kind == AccountKind.PUPIL.value)
    )
