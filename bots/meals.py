"""The bot's meals: a day's menu for the child (tomorrow first, paged by day), ordering and
cancelling a meal set before the school's cut-off, and the balance of the child's account.
Everything goes through the meals services with the linked person's actor: the cut-off, the
allergens, the money and the rights are theirs, and their refusals are shown as worded.
Topping up is done in the app (a card payment needs the payment page of the provider)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from backend.i18n import t
from backend.meals import accounts, menus, orders
from backend.meals import schemas as ms
from backend.schools.people import movement
from bots.core import Button, Child, Turn

if TYPE_CHECKING:
    from bots.core import FamilyBot

ORDERED = "ordered"


def install(bot: FamilyBot) -> None:
    async def command(turn: Turn, args: list[str]) -> None:
        child = await bot.current_child(turn, "mm:1")
        if child is not None:
            await show(turn, child, 1)

    def button(act: Any) -> Any:
        async def run(turn: Turn, args: list[str]) -> None:
            child = await turn.child(int(args[0])) if args and args[0].isdigit() else None
            if child is None:
                await turn.say(t("bot.child_unknown"))
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
        line = t("bot.meals.set", kind=meal.kind_name, name=meal.name, price=rubles(meal.price))
        if item.blocked_allergens:
            line += t("bot.meals.allergens", allergens=", ".join(item.blocked_allergens))
        lines.append(line)
        if not item.blocked_allergens and meal.id not in ordered_sets:
            label = t("bot.meals.order", name=meal.name)
            rows.append((Button(label, f"mo:{child.id}:{offset}:{meal.id}"),))
    for order in placed:
        lines.append(t("bot.meals.ordered", name=order.meal_set_name, status=order.status_name))
        label = t("bot.meals.cancel", name=order.meal_set_name)
        rows.append((Button(label, f"mc:{child.id}:{offset}:{order.id}"),))
    lines.append(t("bot.meals.top_up"))
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
    await show(turn, child, offset, t("bot.meals.placed", name=order.meal_set_name))


async def cancel(turn: Turn, child: Child, offset: int, order_id: int) -> None:
    assert turn.actor is not None
    mine = {o.id for o in await orders.list_orders(turn.actor, child.id, *await _span(child))}
    if order_id not in mine:  # an order of another child: nothing said about it
        await turn.say(t("bot.child_unknown"))
        return
    order = await orders.cancel_order(turn.actor, order_id)
    await show(turn, child, offset, t("bot.meals.cancelled", name=order.meal_set_name))


async def _span(child: Child) -> tuple[Any, Any]:
    today = await movement.pupil_today(child.id)
    return today, today + timedelta(days=31)
