"""The bot's meals: a day's menu for the child (tomorrow first, paged by day), ordering and
cancelling a meal set before the school's cut-off, the balance of the child's account, and a
top-up: an amount chosen from buttons or typed, a payment created at the provider through the
meals payments service (the API's own top-up), and its page sent as a link button.
Everything goes through the meals services with the linked person's actor: the cut-off, the
allergens, the money and the rights are theirs, and their refusals are shown as worded."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import msgspec

from backend.accounts.services import user_contacts
from backend.i18n import t
from backend.meals import accounts, menus, orders
from backend.meals import payments as pay
from backend.meals import schemas as ms
from backend.schools.people import movement
from bots.core import Button, Child, Turn

if TYPE_CHECKING:
    from bots.core import FamilyBot

ORDERED = "ordered"
TOP_UP_ROUBLES = (500, 1000, 2000)  # the amounts offered as buttons; any other is typed
TOP_UP = "top_up"  # what a typed text answers while the amount is asked
TOP_UP_CONTACT = "top_up_contact"  # ... while the receipt's e-mail or phone is asked
CURRENCY = re.compile(r"(₽|руб\.?|р\.?)$")
AMOUNT = re.compile(r"^(\d{1,7})(?:[.,](\d{1,2}))?$")


def install(bot: FamilyBot) -> None:
    async def command(turn: Turn, args: list[str]) -> None:
        child = await bot.current_child(turn, "mm:1")
        if child is not None:
            await show(turn, child, 1)

    def button(act: Any) -> Any:
        async def run(turn: Turn, args: list[str]) -> None:
            child = await bot.visible_child(turn, args[0] if args else None)
            if child is None:
                return
            await turn.put(child=str(child.id))
            offset = int(args[1]) if len(args) > 1 and args[1].lstrip("-").isdigit() else 1
            offset = max(0, min(offset, 31))
            extra = int(args[2]) if len(args) > 2 and args[2].isdigit() else 0
            await act(turn, child, offset, extra)

        return run

    async def just_show(turn: Turn, child: Child, offset: int, extra: int) -> None:
        await show(turn, child, offset)

    bot.commands["meals"] = command
    bot.buttons["mm"] = button(just_show)
    bot.buttons["mo"] = button(place)
    bot.buttons["mc"] = button(cancel)
    bot.buttons["tu"] = button(ask_top_up)
    bot.buttons["tp"] = button(top_up)
    bot.answers[TOP_UP] = typed_amount
    bot.answers[TOP_UP_CONTACT] = typed_contact


def rubles(kopecks: int) -> str:
    sign = "-" if kopecks < 0 else ""
    whole, part = divmod(abs(kopecks), 100)
    return f"{sign}{whole:,}".replace(",", " ") + f",{part:02d} ₽"


async def show(turn: Turn, child: Child, offset: int, note: str = "") -> None:
    assert turn.actor is not None
    day = await movement.pupil_today(child.id) + timedelta(days=offset)
    menu = await menus.pupil_menu(turn.actor, child.id, day)
    account = await accounts.get_account(turn.actor, child.id)
    placed = [
        o for o in await orders.list_orders(turn.actor, child.id, day, day) if o.status == ORDERED
    ]
    lines = [note] if note else []
    lines.append(
        t(
            "bot.meals.title",
            name=child.name,
            weekday=t(f"bot.weekday.{day.weekday()}"),
            date=day.strftime("%d.%m"),
        )
    )
    lines.append(
        t("bot.meals.balance", posted=rubles(account.posted), available=rubles(account.available))
    )
    rows: list[tuple[Button, ...]] = []
    if not menu.is_school_day:
        lines.append(t("bot.meals.day_off", reason=menu.day_off_reason or "—"))
    elif not menu.sets:
        lines.append(t("bot.meals.no_menu"))
    ordered_sets = {o.meal_set_id for o in placed}
    for item in menu.sets:
        meal = item.meal_set
        line = t("bot.meals.set", title=meal.title, price=rubles(meal.price))
        if item.blocked_allergens:
            line += t("bot.meals.allergens", allergens=", ".join(item.blocked_allergens))
        lines.append(line)
        if not item.blocked_allergens and meal.id not in ordered_sets:
            label = t("bot.meals.order", name=meal.title)
            rows.append((Button(label, f"mo:{child.id}:{offset}:{meal.id}"),))
    for order in placed:
        status = order.status_name.lower()
        lines.append(t("bot.meals.ordered", name=order.meal_set_title, status=status))
        label = t("bot.meals.cancel", name=order.meal_set_title)
        rows.append((Button(label, f"mc:{child.id}:{offset}:{order.id}"),))
    rows.append((Button(t("bot.meals.top_up"), f"tu:{child.id}:{offset}"),))
    rows.append(
        (
            Button(t("bot.meals.previous"), f"mm:{child.id}:{max(0, offset - 1)}"),
            Button(t("bot.meals.next"), f"mm:{child.id}:{offset + 1}"),
        )
    )
    rows.append((Button(t("bot.menu.back"), f"menu:{child.id}"),))
    await turn.say("\n".join(lines), tuple(rows))


async def place(turn: Turn, child: Child, offset: int, meal_set_id: int) -> None:
    assert turn.actor is not None
    day = await movement.pupil_today(child.id) + timedelta(days=offset)
    order = await orders.place_order(
        turn.actor, child.id, ms.MealOrderCreate(date=day, meal_set_id=meal_set_id)
    )
    await show(turn, child, offset, t("bot.meals.placed", name=order.meal_set_title))


async def cancel(turn: Turn, child: Child, offset: int, order_id: int) -> None:
    assert turn.actor is not None
    mine = {
        o.id: o.meal_set_title
        for o in await orders.list_orders(turn.actor, child.id, *await _span(child))
    }
    if order_id not in mine:  # an order of another child: nothing said about it
        await turn.say(t("bot.child_unknown"))
        return
    order = await orders.cancel_order(turn.actor, order_id)
    name = order.meal_set_title or mine[order_id]
    await show(turn, child, offset, t("bot.meals.cancelled", name=name))


async def _span(child: Child) -> tuple[Any, Any]:
    today = await movement.pupil_today(child.id)
    return today, today + timedelta(days=31)


# ---- top-ups ---------------------------------------------------------------------------------


def parse_roubles(text: str) -> int | None:
    """Kopecks of a typed amount («750», «750,50», «1 500 ₽», «750 руб.»), or None."""
    cleaned = CURRENCY.sub("", text.replace(" ", "").replace("\u00a0", "").lower())
    found = AMOUNT.match(cleaned)
    if found is None:
        return None
    kopecks = int(found[1]) * 100 + int((found[2] or "0").ljust(2, "0"))
    return kopecks or None


async def ask_top_up(turn: Turn, child: Child, offset: int, extra: int) -> None:
    """How much: buttons, or a typed amount. A fresh key names this top-up: pressing an
    amount twice (a double tap, a button pressed again) makes one payment, not two."""
    await turn.put(awaiting=TOP_UP, top_up=secrets.token_hex(8))
    amounts = tuple(Button(rubles(r * 100), f"tp:{child.id}:{offset}:{r}") for r in TOP_UP_ROUBLES)
    back = (Button(t("bot.meals.back"), f"mm:{child.id}:{offset}"),)
    await turn.say(t("bot.meals.top_up_ask", name=child.name), (amounts, back))


async def top_up(turn: Turn, child: Child, offset: int, roubles: int) -> None:
    await _pay(turn, child, roubles * 100, offset)


async def typed_amount(turn: Turn, args: list[str]) -> None:
    child = await _asked_child(turn)
    if child is None:
        return
    kopecks = parse_roubles(args[0] if args else "")
    if kopecks is None or kopecks > ms.MAX_KOPECKS:
        await turn.say(t("bot.meals.top_up_bad"))  # still asked: another try is welcome
        return
    await _pay(turn, child, kopecks, 1)


async def typed_contact(turn: Turn, args: list[str]) -> None:
    """The receipt's e-mail or phone, asked when the account has neither."""
    child = await _asked_child(turn)
    amount = await turn.get("top_up_amount")
    if child is None or amount is None or not amount.isdigit():
        return
    contact = args[0].strip() if args else ""
    await _pay(turn, child, int(amount), 1, contact=contact)


async def _asked_child(turn: Turn) -> Child | None:
    child = await turn.bot.visible_child(turn, await turn.get("child"))
    if child is None:
        await turn.put(awaiting=None)
    return child


async def _pay(turn: Turn, child: Child, kopecks: int, offset: int, contact: str = "") -> None:
    """Create the payment as the API's top-up does (the same service and rights: the family
    with the meals right for this child) and send its page as a link button."""
    assert turn.actor is not None and turn.actor.user_id is not None
    typed = bool(contact)
    if not contact:
        known = (await user_contacts({turn.actor.user_id})).get(turn.actor.user_id) or {}
        contact = known.get("email") or known.get("phone") or await turn.get("receipt") or ""
    if not contact:
        await turn.put(awaiting=TOP_UP_CONTACT, top_up_amount=str(kopecks))
        await turn.say(t("bot.meals.top_up_contact"))
        return
    key = await turn.get("top_up") or secrets.token_hex(8)
    request = {
        "amount": kopecks,
        "idempotency_key": f"bot-{key}-{kopecks}",
        "method": "bank_card",
        "receipt_email" if "@" in contact else "receipt_phone": contact,
    }
    try:
        data = msgspec.convert(request, ms.TopUpCreate)
    except msgspec.ValidationError:
        await turn.say(t("bot.meals.top_up_bad"))
        return
    try:
        payment = await pay.start_top_up(turn.actor, turn.bot.payments, child.id, data)
    except pay.PaymentsUnavailable:
        await turn.say(t("bot.meals.top_up_unavailable"))
        return
    # A typed contact is kept with the chat's state for the next top-up (gone with /stop).
    await turn.put(awaiting=None, top_up_amount=None, **({"receipt": contact} if typed else {}))
    text = t("bot.meals.top_up_link", name=child.name, sum=rubles(payment.amount))
    rows: list[tuple[Button, ...]] = []
    if payment.confirmation_url:
        label = t("bot.meals.top_up_pay", sum=rubles(payment.amount))
        rows.append((Button(label, url=payment.confirmation_url),))
    else:  # this key's payment is already over: its status is the answer
        text = t("bot.meals.top_up_status", sum=rubles(payment.amount), status=payment.status_name)
    rows.append((Button(t("bot.meals.back"), f"mm:{child.id}:{offset}"),))
    await turn.say(text, tuple(rows))
