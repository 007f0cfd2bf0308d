"""The canteen counter: buffet products, the guardian's daily limit and stop-list, sales to a
pupil found by card or number against the account (refused at the counter with the reason).
Serving marks are `counter`'s.

The daily limit is checked under the lock of the pupil's ledger account (the same lock a
transfer takes), so two sales at two tills cannot both slip under it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from backend.audit.services import AuditAction, record
from backend.core.context import Actor
from backend.core.db import transaction
from backend.core.errors import Conflict, ValidationFailed
from backend.core.rights import Permission
from backend.meals import accounts, counter, ledger
from backend.meals import schemas as s
from backend.meals.ledger import AccountKind, TransferKind, _rub
from backend.meals.tables import BuffetProduct, BuffetSale, PupilAccount
from backend.schools.structure import services as structure

P = Permission


def _product_out(row: dict[str, Any]) -> s.BuffetProductOut:
    return s.BuffetProductOut(
        id=row["id"], school_id=row["school"], name=row["name"], price=row["price"]
    )


async def add_product(
    actor: Actor, school_id: int, data: s.BuffetProductCreate
) -> s.BuffetProductOut:
    await accounts.school_scope(actor, school_id, P.MEALS_MANAGE)
    async with transaction():
        rows = await BuffetProduct.insert(
            BuffetProduct(
                school=school_id,
                caterer=data.caterer_id,
                name=data.name,
                price=data.price,
                created_at=datetime.now(UTC),
            )
        ).returning(BuffetProduct.id)
        await record(
            actor,
            AuditAction.CREATE,
            object_type="buffet_product",
            object_id=rows[0]["id"],
            school_id=school_id,
            details={"name": data.name, "price": data.price},
        )
    row = await BuffetProduct.select().where(BuffetProduct.id == rows[0]["id"]).first()
    assert row is not None
    return _product_out(row)


async def _products(school_id: int) -> list[dict[str, Any]]:
    return list(
        await BuffetProduct.select()
        .where((BuffetProduct.school == school_id) & (BuffetProduct.is_active == True))  # noqa: E712
        .order_by(BuffetProduct.id)
    )


async def _local_today(school_id: int) -> Any:
    out = await structure.get_settings(Actor.system(), school_id)
    return datetime.now(ZoneInfo(out.time_zone)).date()


async def _spent(student_id: int, day: Any) -> int:
    rows = await BuffetSale.select(BuffetSale.total).where(
        (BuffetSale.student == student_id) & (BuffetSale.local_date == day)
    )
    return sum(int(r["total"]) for r in rows)


async def pupil_buffet(actor: Actor, student_id: int) -> s.PupilBuffetOut:
    target = await accounts.student_scope(actor, student_id, P.MEALS_ORDER, P.MEALS_MANAGE)
    assert target.school_id is not None
    account = await accounts.open_pupil_account(student_id, target.school_id)
    row = (
        await PupilAccount.select(PupilAccount.daily_limit, PupilAccount.stop_list)
        .where(PupilAccount.id == account["id"])
        .output(load_json=True)
        .first()
    )
    assert row is not None
    return s.PupilBuffetOut(
        student_id=student_id,
        daily_limit=row["daily_limit"],
        stop_list=row["stop_list"],
        spent_today=await _spent(student_id, await _local_today(target.school_id)),
        products=[_product_out(p) for p in await _products(target.school_id)],
    )


async def set_rules(actor: Actor, student_id: int, data: s.BuffetRules) -> s.PupilBuffetOut:
    """The guardian's daily limit and stop-list for the buffet."""
    target = await accounts.student_scope(actor, student_id, P.MEALS_ORDER)
    assert target.school_id is not None
    account = await accounts.open_pupil_account(student_id, target.school_id)
    known = {p["id"] for p in await _products(target.school_id)}
    unknown = sorted(set(data.stop_list) - known)
    if unknown:
        raise ValidationFailed(
            key="meals.product_unknown",
            details={"field": "stop_list"},
            ids=", ".join(map(str, unknown)),
        )
    async with transaction():
        await PupilAccount.update(
            {
                PupilAccount.daily_limit: data.daily_limit,
                PupilAccount.stop_list: sorted(set(data.stop_list)),
                PupilAccount.updated_at: datetime.now(UTC),
            }
        ).where(PupilAccount.id == account["id"])
        await record(
            actor,
            AuditAction.UPDATE,
            object_type="buffet_rules",
            object_id=student_id,
            school_id=target.school_id,
            student_id=student_id,
            details={"daily_limit": data.daily_limit, "stop_list": sorted(set(data.stop_list))},
        )
    return await pupil_buffet(actor, student_id)


async def sell(actor: Actor, school_id: int, data: s.BuffetSaleCreate) -> s.BuffetSaleOut:
    """A sale at the counter to the pupil (by card, or by number where no card was issued),
    paid from the account. Refused with the reason: a blocked or unknown card, a product on
    the guardian's stop-list, the daily limit, not enough money."""
    pupil = await counter.identify(actor, school_id, student_id=data.student_id, card=data.card)
    student_id = pupil.student_id
    products = {p["id"]: p for p in await _products(school_id)}
    lines = []
    for item in data.items:
        product = products.get(item.product_id)
        if product is None:
            raise ValidationFailed(
                key="meals.product_unknown", details={"field": "items"}, ids=item.product_id
            )
        lines.append((product, item.quantity))
    caterers = {p["caterer"] for p, _ in lines}
    if len(caterers) != 1:
        raise ValidationFailed(key="meals.one_caterer_per_sale", details={"field": "items"})
    total = sum(p["price"] * q for p, q in lines)
    account = await accounts.open_pupil_account(student_id, school_id)
    day = await _local_today(school_id)
    caterer = await ledger.book_account(
        AccountKind.CATERER_PAYABLE, school_id, caterer_id=caterers.pop()
    )
    async with transaction():
        await ledger._lock([account["ledger_account"]])
        rules = (
            await PupilAccount.select(PupilAccount.daily_limit, PupilAccount.stop_list)
            .where(PupilAccount.id == account["id"])
            .output(load_json=True)
            .first()
        )
        assert rules is not None
        stopped = [p["name"] for p, _ in lines if p["id"] in rules["stop_list"]]
        if stopped:
            raise Conflict(key="meals.product_stopped", names=", ".join(stopped))
        spent = await _spent(student_id, day)
        if rules["daily_limit"] is not None and spent + total > rules["daily_limit"]:
            raise Conflict(
                key="meals.daily_limit",
                details={"spent": spent, "limit": rules["daily_limit"], "total": total},
                spent=_rub(spent),
                limit=_rub(rules["daily_limit"]),
                total=_rub(total),
            )
        transfer = await ledger.transfer(
            actor,
            debit=account["ledger_account"],
            credit=caterer,
            amount=total,
            kind=TransferKind.BUFFET,
            key=f"buffet:{school_id}:{data.idempotency_key}",
            school_id=school_id,
            reference="buffet",
        )
        existing = await BuffetSale.select().where(BuffetSale.transfer_id == transfer["id"]).first()
        if existing is None:
            items = [
                {"product_id": p["id"], "name": p["name"], "price": p["price"], "quantity": q}
                for p, q in lines
            ]
            await BuffetSale.insert(
                BuffetSale(
                    school=school_id,
                    student=student_id,
                    local_date=day,
                    items=items,
                    total=total,
                    transfer_id=transfer["id"],
                    sold_by=actor.user_id,
                    sold_at=datetime.now(UTC),
                )
            )
    balance = await ledger.account_balance(account["ledger_account"])
    return s.BuffetSaleOut(
        student_id=student_id,
        total=total,
        transfer_id=transfer["id"],
        available=balance.available,
        spent_today=await _spent(student_id, day),
    )
