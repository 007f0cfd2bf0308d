"""Use cases of the pupils' accounts: balances and statements for families and staff, the
guardian's low-balance threshold, cash top-ups, refunds and corrections by authorised staff,
the school's overdraft limit and the check of its books.

Rights: families (the meals right on the pupil) and the school's meals staff read an account;
only holders of `meals.accounts` at the pupil's school move money by hand. An object outside
the caller's scope answers 404.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import uuid4

import msgspec

from backend.audit.services import AuditAction, record
from backend.core.context import Actor
from backend.core.db import transaction
from backend.core.errors import NotFound
from backend.core.rights import Permission, ScopeKind, ScopeTarget
from backend.i18n import has, t
from backend.meals import ledger
from backend.meals import schemas as s
from backend.meals.ledger import AccountKind, Status, TransferKind
from backend.meals.tables import (
    LedgerTransfer,
    MealOrder,
    MealPayment,
    MealSchoolSettings,
    PupilAccount,
)
from backend.schools.services import school_target, scope_target
from backend.schools.structure import services as structure

P = Permission
READERS = (P.MEALS_ORDER, P.MEALS_MANAGE, P.MEALS_ACCOUNTS)


def allowed(actor: Actor, target: ScopeTarget, *permissions: Permission) -> bool:
    if actor.principal is None:  # the system itself
        return True
    return any(actor.principal.allows(p, target) for p in permissions)


async def student_scope(actor: Actor, student_id: int, *permissions: Permission) -> ScopeTarget:
    """The pupil's place, if the actor holds one of `permissions` there; else 404."""
    target = await scope_target(ScopeKind.STUDENT, student_id)
    if not allowed(actor, target, *permissions):
        raise NotFound(key="meals.not_your_pupil")
    return target


async def pupil_day_scope(
    actor: Actor, student_id: int, day: date, holidays_since: date, *permissions: Permission
) -> structure.PupilDay:
    """`student_scope` with the pupil's class and grade on `day`, the school's clock and its
    holidays since `holidays_since`, from one query of the schools context (decision 0810);
    the same rule, the same 404."""
    found = await structure.pupil_day(student_id, day, holidays_since)
    if not allowed(actor, found.target, *permissions):
        raise NotFound(key="meals.not_your_pupil")
    return found


async def audit_staff_read(actor: Actor, target: ScopeTarget, what: str) -> None:
    """A family reading its own child's account is not logged; staff reading it are, so the
    family can see who looked (the audit's reads of a pupil)."""
    if actor.principal is not None and not actor.principal.allows(P.MEALS_ORDER, target):
        await record(
            actor,
            AuditAction.READ_MEALS_ACCOUNT,
            object_type=what,
            object_id=target.student_id,
            school_id=target.school_id,
            student_id=target.student_id,
        )


async def school_scope(actor: Actor, school_id: int, *permissions: Permission) -> ScopeTarget:
    target = await school_target(school_id)
    if not allowed(actor, target, *permissions):
        raise NotFound()
    return target


# ---- the school's settings -------------------------------------------------------------------


async def meal_settings(school_id: int) -> dict[str, Any]:
    row = await MealSchoolSettings.select().where(MealSchoolSettings.school == school_id).first()
    if row is not None:
        return row
    return {
        "school": school_id,
        "overdraft_limit": 0,
        "order_horizon_days": 14,
        "pupils_may_order": False,
    }


def new_menu_version() -> str:
    return uuid4().hex


async def bump_menu_version(school_id: int) -> None:
    """Say that what an order reads of the school changed (a meal set, a plan, a benefit
    cover): a fresh `menu_version`, in the caller's transaction, so each process's copy of the
    school's menu is read again by the very next order (`backend.meals.school_menu`)."""
    now = datetime.now(UTC)
    await MealSchoolSettings.insert(
        MealSchoolSettings(school=school_id, menu_version=new_menu_version(), updated_at=now)
    ).on_conflict(
        target=MealSchoolSettings.school,
        action="DO UPDATE",
        values=[MealSchoolSettings.menu_version, MealSchoolSettings.updated_at],
    )


def _settings_out(row: dict[str, Any]) -> s.MealSettings:
    return s.MealSettings(
        school_id=row["school"],
        overdraft_limit=row["overdraft_limit"],
        order_horizon_days=row["order_horizon_days"],
        pupils_may_order=row["pupils_may_order"],
    )


async def get_settings(actor: Actor, school_id: int) -> s.MealSettings:
    await school_scope(actor, school_id, P.MEALS_MANAGE, P.MEALS_ACCOUNTS)
    return _settings_out(await meal_settings(school_id))


async def update_settings(
    actor: Actor, school_id: int, data: s.MealSettingsUpdate
) -> s.MealSettings:
    await school_scope(actor, school_id, P.MEALS_ACCOUNTS)
    async with transaction():
        current = await meal_settings(school_id)
        values = {
            "overdraft_limit": current["overdraft_limit"],
            "order_horizon_days": current["order_horizon_days"],
            "pupils_may_order": current["pupils_may_order"],
        }
        changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
        values.update(changes)
        await MealSchoolSettings.insert(
            MealSchoolSettings(
                school=school_id,
                updated_at=datetime.now(UTC),
                menu_version=new_menu_version(),
                **values,
            )
        ).on_conflict(
            target=MealSchoolSettings.school,
            action="DO UPDATE",
            values=[
                MealSchoolSettings.overdraft_limit,
                MealSchoolSettings.order_horizon_days,
                MealSchoolSettings.pupils_may_order,
                MealSchoolSettings.menu_version,
                MealSchoolSettings.updated_at,
            ],
        )
        if "overdraft_limit" in changes:
            await ledger.set_overdraft_limit(school_id, values["overdraft_limit"])
        await record(
            actor,
            AuditAction.UPDATE,
            object_type="meal_settings",
            object_id=school_id,
            school_id=school_id,
            details=changes,
        )
    return _settings_out(await meal_settings(school_id))


# ---- pupils' accounts ------------------------------------------------------------------------


async def open_pupil_account(student_id: int, school_id: int) -> dict[str, Any]:
    """The pupil's account, opened on first use (safe when two open it at once)."""
    row = await PupilAccount.select().where(PupilAccount.student == student_id).first()
    if row is not None:
        return row
    async with transaction():
        limit = (await meal_settings(school_id))["overdraft_limit"]
        ledger_id = await ledger.book_account(
            AccountKind.PUPIL, school_id, student_id=student_id, overdraft_limit=limit
        )
        now = datetime.now(UTC)
        await PupilAccount.insert(
            PupilAccount(
                student=student_id,
                school=school_id,
                ledger_account=ledger_id,
                created_at=now,
                updated_at=now,
            )
        ).on_conflict(action="DO NOTHING")
    row = await PupilAccount.select().where(PupilAccount.student == student_id).first()
    assert row is not None
    return row


async def _account_out(row: dict[str, Any]) -> s.PupilAccountOut:
    account = await ledger.account_row(row["ledger_account"])
    balance = ledger.balance_of(account["kind"], account)
    return s.PupilAccountOut(
        student_id=row["student"],
        school_id=row["school"],
        posted=balance.posted,
        held=balance.held,
        available=balance.available,
        overdraft_limit=account["overdraft_limit"],
        low_balance_threshold=row["low_balance_threshold"],
    )


async def get_account(actor: Actor, student_id: int) -> s.PupilAccountOut:
    target = await student_scope(actor, student_id, *READERS)
    assert target.school_id is not None
    await audit_staff_read(actor, target, "pupil_account")
    return await _account_out(await open_pupil_account(student_id, target.school_id))


async def set_threshold(
    actor: Actor, student_id: int, data: s.PupilAccountUpdate
) -> s.PupilAccountOut:
    """The guardian's low-balance threshold (None: no alert)."""
    target = await student_scope(actor, student_id, P.MEALS_ORDER)
    assert target.school_id is not None
    row = await open_pupil_account(student_id, target.school_id)
    async with transaction():
        await PupilAccount.update(
            {
                PupilAccount.low_balance_threshold: data.low_balance_threshold,
                PupilAccount.updated_at: datetime.now(UTC),
            }
        ).where(PupilAccount.id == row["id"])
        await record(
            actor,
            AuditAction.UPDATE,
            object_type="pupil_account",
            object_id=row["id"],
            school_id=target.school_id,
            student_id=student_id,
            details={"low_balance_threshold": data.low_balance_threshold},
        )
    return await get_account(actor, student_id)


async def bases(references: set[str]) -> dict[str, str]:
    """What each ledger reference means to a person («Пополнение через ЮKassa № 12», «Обед
    на 08.12.2026», «Наличные в кассе школы»): the statement's «Основание», never the ledger's
    own codes (`payment:12`, `order:18`). A reference it does not know reads as nothing."""

    def numbers(prefix: str) -> list[int]:
        return sorted(
            {int(n) for r in references if (n := r.removeprefix(prefix)) != r and n.isdigit()}
        )

    payment_ids, order_ids = numbers("payment:"), numbers("order:")
    payments = {
        r["id"]: r
        for r in (
            await MealPayment.select(MealPayment.id, MealPayment.provider).where(
                MealPayment.id.is_in(payment_ids)
            )
            if payment_ids
            else []
        )
    }
    orders = {
        r["id"]: r
        for r in (
            await MealOrder.select(MealOrder.id, MealOrder.date, MealOrder.meal_kind).where(
                MealOrder.id.is_in(order_ids)
            )
            if order_ids
            else []
        )
    }
    out: dict[str, str] = {}
    for reference in references:
        kind, _, number = reference.partition(":")
        text = ""
        if kind == "payment" and number.isdigit() and int(number) in payments:
            provider = payments[int(number)]["provider"]
            key = f"meals.provider.{provider}"
            name = t(key) if has(key) else provider
            text = t("meals.basis.payment", provider=name, number=number)
        elif kind == "order" and number.isdigit() and int(number) in orders:
            order = orders[int(number)]
            text = t(
                "meals.basis.order",
                kind=t(f"meals.meal_kind.{order['meal_kind']}"),
                date=order["date"].strftime("%d.%m.%Y"),
            )
        elif has(f"meals.basis.{reference}") and not number:
            text = t(f"meals.basis.{reference}")
        out[reference] = text
    return out


async def statement(actor: Actor, student_id: int, *, limit: int, offset: int) -> s.StatementOut:
    """Every entry of the pupil's account, newest first, each with the posted balance after
    it: the family sees why the balance is what it is."""
    target = await student_scope(actor, student_id, *READERS)
    assert target.school_id is not None
    await audit_staff_read(actor, target, "pupil_statement")
    row = await open_pupil_account(student_id, target.school_id)
    account_id = row["ledger_account"]
    entries = (
        await LedgerTransfer.select()
        .where(
            (LedgerTransfer.debit_account == account_id)
            | (LedgerTransfer.credit_account == account_id)
        )
        .order_by(LedgerTransfer.id)
    )
    resolved = {e["pending_id"]: e["status"] for e in entries if e["pending_id"] is not None}
    basis = await bases({e["reference"] for e in entries if e["reference"]})
    items: list[s.StatementEntry] = []
    posted = 0
    for e in entries:
        sign = 1 if e["credit_account"] == account_id else -1
        changes_posted = e["status"] == Status.POSTED
        if changes_posted:
            posted += sign * e["amount"]
        items.append(
            s.StatementEntry(
                id=e["id"],
                at=e["created_at"],
                kind=e["kind"],
                kind_name=t(f"meals.kind.{e['kind']}"),
                amount=sign * e["amount"],
                status=e["status"],
                status_name=t(f"meals.status.{e['status']}"),
                hold_state=resolved.get(e["id"], Status.PENDING.value)
                if e["status"] == Status.PENDING
                else None,
                pending_id=e["pending_id"],
                reverses_id=e["reverses_id"],
                refund_of=e["refund_of"],
                reference=e["reference"],
                basis=basis.get(e["reference"], ""),
                reason=e["reason"],
                posted_after=posted,
            )
        )
    items.reverse()
    balance = await _account_out(row)
    return s.StatementOut(account=balance, items=items[offset : offset + limit], total=len(items))


# ---- money moved by staff --------------------------------------------------------------------


async def cash_top_up(actor: Actor, student_id: int, data: s.CashTopUp) -> s.TransferOut:
    """Cash taken at the school's office, credited to the pupil's account."""
    target = await student_scope(actor, student_id, P.MEALS_ACCOUNTS)
    assert target.school_id is not None
    pupil = await open_pupil_account(student_id, target.school_id)
    desk = await ledger.book_account(AccountKind.CASH_DESK, target.school_id)
    row = await ledger.transfer(
        actor,
        debit=desk,
        credit=pupil["ledger_account"],
        amount=data.amount,
        kind=TransferKind.TOP_UP,
        key=f"cash:{target.school_id}:{data.idempotency_key}",
        school_id=target.school_id,
        reference="cash",
        reason=data.comment,
    )
    return transfer_out(row)


async def _transfer_in_scope(actor: Actor, transfer_id: int) -> dict[str, Any]:
    row = await LedgerTransfer.select().where(LedgerTransfer.id == transfer_id).first()
    if row is None:
        raise NotFound()
    await school_scope(actor, row["school"], P.MEALS_ACCOUNTS)
    return row


async def refund(actor: Actor, transfer_id: int, data: s.RefundRequest) -> s.TransferOut:
    await _transfer_in_scope(actor, transfer_id)
    row = await ledger.refund(
        actor,
        transfer_id,
        data.amount,
        key=f"refund:{transfer_id}:{data.idempotency_key}",
        reason=data.reason,
    )
    return transfer_out(row)


async def correct(actor: Actor, transfer_id: int, data: s.CorrectionRequest) -> s.TransferOut:
    await _transfer_in_scope(actor, transfer_id)
    return transfer_out(await ledger.reverse(actor, transfer_id, reason=data.reason))


async def check_books(actor: Actor, school_id: int) -> s.BookCheckOut:
    await school_scope(actor, school_id, P.MEALS_ACCOUNTS)
    result = await ledger.check_books(school_id)
    return s.BookCheckOut(
        school_id=school_id,
        ok=result.ok,
        debits_posted=result.debits_posted,
        credits_posted=result.credits_posted,
        debits_pending=result.debits_pending,
        credits_pending=result.credits_pending,
        accounts=result.accounts,
        mismatched_accounts=result.mismatched_accounts,
        over_limit_accounts=result.over_limit_accounts,
    )


def transfer_out(row: dict[str, Any]) -> s.TransferOut:
    return s.TransferOut(
        id=row["id"],
        kind=row["kind"],
        amount=row["amount"],
        status=row["status"],
        pending_id=row["pending_id"],
        reverses_id=row["reverses_id"],
        refund_of=row["refund_of"],
        at=row["created_at"],
        reason=row["reason"],
    )
