"""The family app's meals: the menu of a day with each dish (composition, allergens,
nutrition), ordering and cancelling before the cut-off, standing orders, the balance (on the
account, held by orders, available) with the statement and a top-up through the payment
provider's page, the buffet's daily limit and stop-list.

A guardian sees it; a delegate if the parent gave «питание»; a pupil's own account does not
(the server does not give meals to pupils). The server's refusals (cut-off passed, not enough
money, the child's allergen) are shown as it words them.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta
from typing import TYPE_CHECKING

from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout

from mobile.common import theme
from mobile.common.api import ApiError
from mobile.common.i18n import t
from mobile.common.models_meals import (
    PAYMENT_FINAL,
    MealOrder,
    Payment,
    PupilAccount,
    PupilBuffet,
    PupilMenu,
    StandingOrder,
    Statement,
)
from mobile.common.money import parse_roubles, roubles
from mobile.family.data import NothingKept
from mobile.family.screens import FamilyScreen, day_title, field
from mobile.family.screens_entries import LIVE, balance_lines, local, may
from mobile.family.widgets import Btn, Card, Column, Text

if TYPE_CHECKING:
    from mobile.family.app import FamilyApp

STANDING_KINDS = ("lunch", "breakfast")


class MealsScreen(FamilyScreen):
    """Four parts: the menu of a day (‹ › between days) with ordering, standing orders, the
    account with its statement and top-up, the buffet's rules."""

    TABS = ("menu", "standing", "account", "buffet")

    def __init__(self, app: FamilyApp) -> None:
        super().__init__(app, name="meals")
        self.tab = "menu"
        self.day: date | None = None
        box = BoxLayout(orientation="vertical")
        tabs = BoxLayout(size_hint_y=None, height=dp(theme.size(theme.TOUCH)), spacing=dp(2))
        self.tab_buttons: dict[str, Btn] = {}
        for name in self.TABS:
            button = Btn(t(f"family.meals.tab_{name}"), primary=False, font=theme.FONT_SMALL)
            button.bind(on_release=lambda *_, n=name: self.pick(n))
            self.tab_buttons[name] = button
            tabs.add_widget(button)
        self.column = Column()
        box.add_widget(tabs)
        box.add_widget(self.column)
        self.add_widget(box)
        self.message = Text("", color=theme.ABSENT)
        self.menu: PupilMenu | None = None
        self.orders: list[MealOrder] = []
        self.account: PupilAccount | None = None
        self.statement: Statement | None = None
        self.buffet: PupilBuffet | None = None
        self.order_buttons: dict[int, Btn] = {}  # meal set -> its order / cancel button
        self.balance_texts: list[str] = []
        self.stop_buttons: dict[int, Btn] = {}
        self.stopped: set[int] = set()
        # the top-up's fields keep what was typed across redraws
        self.amount_field = field(t("family.meals.top_up_amount"))
        self.contact_field = field(t("family.meals.top_up_contact"))
        self.top_up_button = Btn(t("family.meals.top_up"))
        self.top_up_button.bind(on_release=lambda *_: self.app.spawn(self.top_up()))
        self.top_up_key: str | None = None  # kept until the server answers: no second payment
        self.payment: Payment | None = None
        self.standing: list[StandingOrder] | None = None
        self.standing_buttons: dict[str, Btn] = {}  # meal kind -> start / stop

    def menu_day(self) -> date:
        return self.day or self.app.today() + timedelta(days=1)

    def pick(self, tab: str) -> None:
        self.tab = tab
        self.message.text = ""
        self.app.spawn(self.reload())

    def turn(self, days: int) -> None:
        self.day = self.menu_day() + timedelta(days=days)
        self.message.text = ""
        self.app.spawn(self.reload())

    async def reload(self) -> None:
        child = self.app.child
        for name, button in self.tab_buttons.items():
            button.background_color = theme.PRIMARY if name == self.tab else theme.DIVIDER
            button.color = theme.ON_PRIMARY if name == self.tab else theme.TEXT
        if not may(child, "meals.order") or child is None:
            self.column.clear()
            self.column.add(Text(t("family.meals.not_yours"), color=theme.TEXT_MUTED))
            self.app.shown(None)
            return
        student = child.student_id
        try:
            account = await self.app.data.account(student)
            if self.tab == "menu":
                day = self.menu_day()
                menu = await self.app.data.menu(student, day)
                orders = await self.app.data.orders(student, day, day)
                self.menu, self.orders = menu.value, orders.value
            elif self.tab == "standing":
                self.standing = (await self.app.data.standing_orders(student)).value
            elif self.tab == "account":
                self.statement = (await self.app.data.statement(student)).value
            else:
                self.buffet = (await self.app.data.buffet(student)).value
                self.stopped = set(self.buffet.stop_list)
        except NothingKept:
            self.app.note(t("error.unreachable_family"))
            return
        self.account = account.value
        self.draw()
        self.app.shown(account)

    # ------------------------------------------------------------------ drawing

    def draw(self) -> None:
        col = self.column
        col.clear()
        self.order_buttons, self.stop_buttons = {}, {}
        if self.account is not None:
            card = col.add(Card())
            self.balance_texts = balance_lines(self.account)
            card.add_widget(Text(self.balance_texts[0], bold=True))
            for line in self.balance_texts[1:]:
                card.add_widget(Text(line, font=theme.FONT_SMALL))
        col.add(self.message)
        if self.tab == "menu":
            self._draw_menu(col)
        elif self.tab == "standing":
            self._draw_standing(col)
        elif self.tab == "account":
            self._draw_statement(col)
        else:
            self._draw_buffet(col)

    def _draw_menu(self, col: Column) -> None:
        head = BoxLayout(size_hint_y=None, height=dp(theme.size(theme.TOUCH)), spacing=dp(4))
        back = Btn("‹", primary=False, size_hint_x=None, width=dp(theme.size(64)))
        forward = Btn("›", primary=False, size_hint_x=None, width=dp(theme.size(64)))
        back.bind(on_release=lambda *_: self.turn(-1))
        forward.bind(on_release=lambda *_: self.turn(1))
        head.add_widget(back)
        title = Text(t("family.meals.menu_of", date=day_title(self.menu_day())), bold=True)
        title.size_hint_y = 1  # centred between the arrows
        head.add_widget(title)
        head.add_widget(forward)
        col.add(head)
        menu = self.menu
        if menu is None:
            return
        if not menu.is_school_day:
            col.add(Text(menu.day_off_reason or t("family.meals.day_off"), color=theme.TEXT_MUTED))
            return
        if not menu.sets:
            col.add(Text(t("family.meals.no_menu"), color=theme.TEXT_MUTED))
        ordered = {o.meal_set_id: o for o in self.orders if o.status in LIVE}
        for item in menu.sets:
            meal = item.meal_set
            card = col.add(Card())
            card.add_widget(
                Text(
                    meal.title or t("family.meals.set_title", kind=meal.kind_name, name=meal.name),
                    bold=True,
                )
            )
            card.add_widget(
                Text(
                    t("family.meals.set_price", price=roubles(meal.price), kcal=round(meal.kcal)),
                    font=theme.FONT_SMALL,
                )
            )
            for dish in meal.dishes:
                card.add_widget(Text(dish.name))
                details = t(
                    "family.meals.dish",
                    grams=dish.weight_g,
                    kcal=round(dish.kcal),
                    p=_num(dish.proteins_g),
                    f=_num(dish.fats_g),
                    c=_num(dish.carbs_g),
                )
                if dish.composition:
                    details += "\n" + t("family.meals.composition", text=dish.composition)
                card.add_widget(Text(details, font=theme.FONT_SMALL, color=theme.TEXT_MUTED))
                if dish.allergens:
                    card.add_widget(
                        Text(
                            t("family.meals.allergens", names=dish.allergen_names),
                            font=theme.FONT_SMALL,
                            color=theme.ABSENT,
                        )
                    )
            order = ordered.get(meal.id)
            if order is not None:
                card.add_widget(
                    Text(
                        t("family.meals.ordered", status=order.status_name),
                        font=theme.FONT_SMALL,
                        bold=True,
                    )
                )
                button = Btn(t("family.meals.cancel"), primary=False)
                button.bind(on_release=lambda *_, o=order: self.app.spawn(self.cancel(o)))
            elif item.blocked_allergens:
                card.add_widget(Text(t("family.meals.blocked"), color=theme.ABSENT))
                continue
            else:
                button = Btn(t("family.meals.order", price=roubles(meal.price)))
                button.bind(on_release=lambda *_, m=meal.id: self.app.spawn(self.order(m)))
            self.order_buttons[meal.id] = button
            card.add_widget(button)

    def _draw_standing(self, col: Column) -> None:
        """Each meal kind: the live standing order with what became of each day booked, and
        a button to stop it; or a button to start «каждый учебный день»."""
        self.standing_buttons = {}
        col.add(
            Text(t("family.meals.standing_explain"), font=theme.FONT_SMALL, color=theme.TEXT_MUTED)
        )
        live = {o.meal_kind: o for o in self.standing or [] if o.active}
        for kind in STANDING_KINDS:
            card = col.add(Card())
            order = live.get(kind)
            name = t(f"family.meals.kind_{kind}")
            if order is None:
                card.add_widget(Text(t("family.meals.standing_none", kind=name)))
                button = Btn(t("family.meals.standing_start", kind=name))
                button.bind(on_release=lambda *_, k=kind: self.app.spawn(self.start_standing(k)))
            else:
                card.add_widget(Text(t("family.meals.standing_on", kind=name), bold=True))
                for day in sorted(order.days, key=lambda d: d.date):
                    line = t(
                        "family.meals.standing_day", date=day_title(day.date), what=day.outcome_name
                    )
                    if day.message and day.message != day.outcome_name:
                        line += f" ({day.message})"
                    card.add_widget(Text(line, font=theme.FONT_SMALL))
                button = Btn(t("family.meals.standing_stop"), primary=False)
                button.bind(on_release=lambda *_, o=order: self.app.spawn(self.stop_standing(o)))
            self.standing_buttons[kind] = button
            card.add_widget(button)

    def _draw_statement(self, col: Column) -> None:
        col.add(Text(t("family.meals.top_up_title"), bold=True))
        card = col.add(Card())
        for widget in (self.amount_field, self.contact_field, self.top_up_button):
            if widget.parent is not None:
                widget.parent.remove_widget(widget)
            card.add_widget(widget)
        col.add(Text(t("family.meals.statement"), bold=True))
        card = col.add(Card())
        items = self.statement.items if self.statement else []
        if not items:
            card.add_widget(Text(t("family.meals.statement_empty"), color=theme.TEXT_MUTED))
        for entry in items:
            at = local(entry.at, self.app.child)
            line = t(
                "family.meals.statement_line",
                date=at.strftime("%d.%m"),
                time=at.strftime("%H:%M"),
                what=entry.kind_name,
                sum=roubles(entry.amount, sign=True),
            )
            state = " · ".join(x for x in (entry.status_name, entry.basis, entry.reason) if x)
            card.add_widget(Text(line, font=theme.FONT_SMALL))
            card.add_widget(
                Text(
                    t("family.meals.statement_after", state=state, sum=roubles(entry.posted_after)),
                    font=theme.FONT_SMALL,
                    color=theme.TEXT_MUTED,
                )
            )

    def _draw_buffet(self, col: Column) -> None:
        buffet = self.buffet
        if buffet is None:
            return
        col.add(Text(t("family.meals.buffet"), bold=True))
        card = col.add(Card())
        limit = (
            roubles(buffet.daily_limit)
            if buffet.daily_limit is not None
            else t("family.meals.no_limit")
        )
        card.add_widget(Text(t("family.meals.limit", limit=limit)))
        card.add_widget(
            Text(
                t("family.meals.spent_today", sum=roubles(buffet.spent_today)),
                font=theme.FONT_SMALL,
            )
        )
        self.limit_field = field(t("family.meals.limit_hint"))
        if buffet.daily_limit is not None:
            self.limit_field.text = f"{buffet.daily_limit // 100},{buffet.daily_limit % 100:02d}"
        card.add_widget(self.limit_field)
        col.add(Text(t("family.meals.stop_list"), bold=True))
        card = col.add(Card())
        for product in buffet.products:
            button = Btn("", primary=False, font=theme.FONT_SMALL)
            self.stop_buttons[product.id] = button
            self._paint_stop(product.id, product.name, product.price)
            button.bind(on_release=lambda *_, p=product: self._flip_stop(p.id, p.name, p.price))
            card.add_widget(button)
        save = Btn(t("family.meals.save_buffet"))
        save.bind(on_release=lambda *_: self.app.spawn(self.save_buffet()))
        col.add(save)

    def _paint_stop(self, product_id: int, name: str, price: int) -> None:
        button = self.stop_buttons[product_id]
        stopped = product_id in self.stopped
        key = "family.meals.stopped" if stopped else "family.meals.allowed"
        button.text = t(key, name=name, price=roubles(price))
        button.background_color = theme.LATE if stopped else theme.DIVIDER

    def _flip_stop(self, product_id: int, name: str, price: int) -> None:
        self.stopped ^= {product_id}
        self._paint_stop(product_id, name, price)

    # ------------------------------------------------------------------ actions

    def say(self, text: str, *, error: bool = True) -> None:
        self.message.text = text
        self.message.color = theme.ABSENT if error else theme.PRIMARY

    async def order(self, meal_set_id: int) -> None:
        child = self.app.child
        if child is None:
            return
        try:
            await self.app.data.order_meal(child.student_id, self.menu_day(), meal_set_id)
        except ApiError as exc:
            self.say(exc.message)  # the server's words: cut-off, money, allergen
            return
        self.message.text = ""
        await self.reload()

    async def cancel(self, order: MealOrder) -> None:
        try:
            await self.app.data.cancel_order(order.id)
        except ApiError as exc:
            self.say(exc.message)
            return
        self.message.text = ""
        await self.reload()

    async def start_standing(self, kind: str) -> None:
        child = self.app.child
        if child is None:
            return
        try:
            await self.app.data.create_standing(child.student_id, kind)
        except ApiError as exc:
            self.say(exc.message)
            return
        self.message.text = ""
        await self.reload()

    async def stop_standing(self, order: StandingOrder) -> None:
        try:
            await self.app.data.cancel_standing(order.id)
        except ApiError as exc:
            self.say(exc.message)
            return
        self.say(t("family.meals.standing_stopped"), error=False)
        await self.reload()

    async def top_up(self) -> None:
        """A payment at the provider, its page opened in the phone's browser; the balance is
        refreshed when the provider says the payment is done."""
        from mobile.common import platform

        child = self.app.child
        if child is None:
            return
        amount = parse_roubles(self.amount_field.text.strip())
        if not amount:
            self.say(t("family.meals.top_up_amount_bad"))
            return
        contact = self.contact_field.text.strip()
        if not contact:
            self.say(t("family.meals.top_up_contact_missing"))
            return
        email, phone = (contact, "") if "@" in contact else ("", contact)
        self.top_up_key = self.top_up_key or f"app-{uuid.uuid4().hex}"
        try:
            payment = await self.app.data.top_up(
                child.student_id, amount, self.top_up_key, email, phone
            )
        except ApiError as exc:
            if exc.status:  # the server refused: another try is another request
                self.top_up_key = None
            self.say(exc.message)
            return
        self.top_up_key = None
        self.payment = payment
        self.say(t("family.meals.top_up_opened", sum=roubles(payment.amount)), error=False)
        if payment.confirmation_url:
            (self.app.platform or platform.current()).open_url(payment.confirmation_url)
        self.app.spawn(self.watch_payment(payment.id))

    async def watch_payment(self, payment_id: int, every: float = 2.0, tries: int = 150) -> None:
        """Ask the server how the payment went until the provider has said (about 5 min)."""
        for _ in range(tries):
            await asyncio.sleep(every)
            try:
                payment = await self.app.data.payment(payment_id)
            except ApiError:
                continue
            self.payment = payment
            if payment.status in PAYMENT_FINAL:
                done = t(
                    "family.meals.top_up_done",
                    status=payment.status_name,
                    sum=roubles(payment.amount),
                )
                self.say(done, error=payment.status != "succeeded")
                if self.app.screens.current == "meals":
                    await self.reload()
                return

    async def save_buffet(self) -> None:
        child = self.app.child
        if child is None:
            return
        typed = self.limit_field.text.strip()
        limit = parse_roubles(typed) if typed else None
        if typed and limit is None:
            self.say(t("family.meals.limit_bad"))
            return
        try:
            await self.app.data.set_buffet(child.student_id, limit, sorted(self.stopped))
        except ApiError as exc:
            self.say(exc.message)
            return
        self.say(t("family.meals.buffet_saved"), error=False)
        await self.reload()


def _num(value: float) -> str:
    return f"{value:.1f}".replace(".", ",")
