"""The family app's settings: channels per kind of notification, quiet hours and the digest;
delegates (grant with what and until when, revoke); who viewed the child's personal file;
reporting the child ill; signing out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout

from mobile.common import theme
from mobile.common.api import ApiError
from mobile.common.i18n import t
from mobile.common.models import ChatLink, Preference
from mobile.family.data import NothingKept
from mobile.family.screens import FamilyScreen, field
from mobile.family.widgets import Btn, Card, Column, Text

if TYPE_CHECKING:
    from mobile.family.app import FamilyApp

CHANNELS = ("push", "telegram", "max", "email", "sms")
KINDS = (
    "mark.created",
    "mark.changed",
    "attendance.absent",
    "attendance.late",
    "homework.created",
    "remark.created",
    "announcement.created",
)
DELEGATE_PARTS = ("diary.read", "meals.order", "access.read")
# Messengers whose chats the server links with one-time codes (backend.messaging.links).
LINKABLE = ("telegram", "max")


class SettingsScreen(FamilyScreen):
    def __init__(self, app: FamilyApp) -> None:
        super().__init__(app, name="settings")
        self.column = Column()
        self.add_widget(self.column)
        self.rules: dict[str, Preference] = {}
        self.channel_buttons: dict[tuple[str, str], Btn] = {}
        self.viewers: list[Any] = []
        self.delegates: list[Any] = []
        self.reports: list[Any] = []

    async def reload(self) -> None:
        try:
            prefs = await self.app.data.preferences()
        except NothingKept:
            self.app.note(t("error.unreachable_family"))
            return
        child = self.app.child
        guardian = child is not None and child.role == "guardian"
        delegates: list[Any] = []
        viewers: list[Any] = []
        self.reports = []
        if guardian and child is not None:
            try:
                delegates = (await self.app.data.delegates(child.student_id)).value
                viewers = (await self.app.data.viewers(child.student_id)).value
                self.reports = (await self.app.data.illness_reports(child.student_id)).value
            except ApiError:
                pass
        self.draw(prefs.value, delegates, viewers, guardian)
        self.app.shown(prefs)

    def draw(
        self, prefs: list[Preference], delegates: list[Any], viewers: list[Any], guardian: bool
    ) -> None:
        col = self.column
        col.clear()
        self.rules = {p.kind: p for p in prefs if p.student_id == 0}
        self.channel_buttons = {}
        self.delegates, self.viewers = delegates, viewers
        col.add(Text(t("family.settings.title"), font=theme.FONT_TITLE, bold=True))
        # channels per kind
        col.add(Text(t("family.settings.channels"), bold=True))
        card = col.add(Card())
        for kind in KINDS:
            name = t(f"family.kind.{kind.replace('.', '_')}")
            if self._school_default(kind):
                name += " " + t("family.settings.school_default")
            card.add_widget(Text(name, font=theme.FONT_SMALL))
            # Three a row: five in a row left «Telegram» broken in two on a phone.
            row = GridLayout(
                cols=3,
                size_hint_y=None,
                height=2 * dp(theme.size(44)) + dp(4),
                spacing=dp(4),
            )
            for channel in CHANNELS:
                button = Btn(
                    t(f"family.channel.{channel}"), font=theme.FONT_SMALL, height=dp(theme.size(44))
                )
                self._paint(button, channel in self._channels(kind))
                button.bind(
                    on_release=lambda *_, k=kind, c=channel: self.app.spawn(self.toggle(k, c))
                )
                self.channel_buttons[(kind, channel)] = button
                row.add_widget(button)
            card.add_widget(row)
        self._draw_messengers(col)
        # quiet hours and digest (the rule for every kind)
        general = self.rules.get("*")
        col.add(Text(t("family.settings.quiet"), bold=True))
        card = col.add(Card())
        self.quiet_from = field(t("family.settings.quiet_from"))
        self.quiet_to = field(t("family.settings.quiet_to"))
        self.digest_at = field(t("family.settings.digest_at"))
        if general is not None:
            self.quiet_from.text = general.quiet_from or ""
            self.quiet_to.text = general.quiet_to or ""
            self.digest_at.text = general.digest_at or ""
        self.digest = general is not None and general.mode == "digest"
        self.digest_button = Btn(
            t("family.settings.digest_on" if self.digest else "family.settings.digest_off"),
            primary=False,
        )
        self.digest_button.bind(on_release=lambda *_: self._flip_digest())
        for widget in (self.quiet_from, self.quiet_to, self.digest_button, self.digest_at):
            card.add_widget(widget)
        save = Btn(t("family.settings.save"))
        save.bind(on_release=lambda *_: self.app.spawn(self.save_general()))
        card.add_widget(save)
        if guardian:
            self._draw_illness(col)
            self._draw_delegates(col)
            col.add(Text(t("family.settings.viewers"), bold=True))
            card = col.add(Card())
            if not viewers:
                card.add_widget(Text(t("family.settings.no_viewers"), color=theme.TEXT_MUTED))
            for view in viewers[:20]:
                at = view.at.astimezone().strftime("%d.%m.%Y %H:%M")
                card.add_widget(Text(f"{at} · {view.who} · {view.what}", font=theme.FONT_SMALL))
        sign_out = Btn(t("family.settings.sign_out"), primary=False)
        sign_out.bind(on_release=lambda *_: self.app.spawn(self.app.sign_out()))
        col.add(sign_out)

    def _draw_messengers(self, col: Column) -> None:
        """Connect the bot: a one-time code (and the bot's link, opened on the phone)."""
        col.add(Text(t("family.settings.messengers"), bold=True))
        card = col.add(Card())
        card.add_widget(
            Text(
                t("family.settings.messengers_explain"),
                font=theme.FONT_SMALL,
                color=theme.TEXT_MUTED,
            )
        )
        self.link_buttons: dict[str, Btn] = {}
        for messenger in LINKABLE:
            button = Btn(t("family.settings.link", messenger=t(f"family.channel.{messenger}")))
            button.bind(on_release=lambda *_, m=messenger: self.app.spawn(self.link_chat(m)))
            self.link_buttons[messenger] = button
            card.add_widget(button)
        self.link_message = Text("", bold=True)
        card.add_widget(self.link_message)

    async def link_chat(self, messenger: str) -> None:
        from mobile.common import platform

        try:
            link = await self.app.data.chat_link(messenger)
        except ApiError as exc:
            self.link_message.text = exc.message
            self.link_message.color = theme.ABSENT
            return
        self.chat_link: ChatLink | None = link
        code = f"{link.code[:4]}-{link.code[4:]}" if len(link.code) == 8 else link.code
        self.link_message.text = t(
            "family.settings.link_code",
            messenger=t(f"family.channel.{messenger}"),
            code=code,
            until=link.expires_at.astimezone().strftime("%H:%M"),
        )
        self.link_message.color = theme.TEXT
        if link.deep_link:
            (self.app.platform or platform.current()).open_url(link.deep_link)

    def _draw_illness(self, col: Column) -> None:
        col.add(Text(t("family.illness.title"), bold=True))
        card = col.add(Card())
        for report in self.reports[:5]:
            card.add_widget(
                Text(
                    t(
                        "family.illness.line",
                        start=report.date_from.strftime("%d.%m"),
                        end=report.date_to.strftime("%d.%m"),
                        comment=report.comment,
                    ),
                    font=theme.FONT_SMALL,
                )
            )
        today = self.app.today()
        self.ill_from = field(t("family.illness.date_from"))
        self.ill_to = field(t("family.illness.date_to"))
        self.ill_from.text = today.strftime("%d.%m.%Y")
        self.ill_to.text = today.strftime("%d.%m.%Y")
        self.ill_comment = field(t("family.illness.comment"))
        self.ill_message = Text("", color=theme.ABSENT)
        self.ill_button = Btn(t("family.illness.send"))
        self.ill_button.bind(on_release=lambda *_: self.app.spawn(self.report_illness()))
        for widget in (self.ill_from, self.ill_to, self.ill_comment, self.ill_button):
            card.add_widget(widget)
        card.add_widget(self.ill_message)

    async def report_illness(self) -> None:
        child = self.app.child
        if child is None:
            return
        try:
            start = datetime.strptime(self.ill_from.text.strip(), "%d.%m.%Y").date()
            end = datetime.strptime(self.ill_to.text.strip(), "%d.%m.%Y").date()
        except ValueError:
            self.ill_message.text = t("family.settings.bad_date")
            return
        try:
            await self.app.data.report_illness(
                child.student_id, start, end, self.ill_comment.text.strip()
            )
        except ApiError as exc:
            self.ill_message.text = exc.message
            return
        await self.reload()
        self.ill_message.text = t("family.illness.sent")

    def _draw_delegates(self, col: Column) -> None:
        col.add(Text(t("family.settings.delegates"), bold=True))
        card = col.add(Card())
        live = [d for d in self.delegates if d.revoked_at is None]
        if not live:
            card.add_widget(Text(t("family.settings.no_delegates"), color=theme.TEXT_MUTED))
        for delegate in live:
            until = delegate.valid_until.strftime("%d.%m.%Y") if delegate.valid_until else "—"
            parts = ", ".join(t(f"family.part.{p.replace('.', '_')}") for p in delegate.parts)
            card.add_widget(
                Text(
                    t(
                        "family.settings.delegate_line",
                        name=delegate.full_name,
                        parts=parts,
                        until=until,
                    )
                )
            )
            revoke = Btn(t("family.settings.revoke"), primary=False, font=theme.FONT_SMALL)
            revoke.bind(on_release=lambda *_, d=delegate: self.app.spawn(self.revoke(d.id)))
            card.add_widget(revoke)
        card.add_widget(Text(t("family.settings.grant"), bold=True))
        self.delegate_name = field(t("family.settings.delegate_name"))
        self.delegate_phone = field(t("family.settings.delegate_phone"))
        self.delegate_until = field(t("family.settings.delegate_until"))
        self.delegate_message = Text("", color=theme.ABSENT)
        for widget in (self.delegate_name, self.delegate_phone, self.delegate_until):
            card.add_widget(widget)
        # what the delegate may do: the diary at least, meals and entries if the parent says
        card.add_widget(Text(t("family.settings.delegate_parts"), font=theme.FONT_SMALL))
        self.part_buttons: dict[str, Btn] = {}
        self.parts_chosen = {DELEGATE_PARTS[0]}
        row = BoxLayout(size_hint_y=None, height=dp(theme.size(44)), spacing=dp(4))
        for part in DELEGATE_PARTS:
            button = Btn(
                t(f"family.part.{part.replace('.', '_')}"),
                font=theme.FONT_SMALL,
                height=dp(theme.size(44)),
            )
            self._paint(button, part in self.parts_chosen)
            button.bind(on_release=lambda *_, p=part: self._flip_part(p))
            self.part_buttons[part] = button
            row.add_widget(button)
        card.add_widget(row)
        grant = Btn(t("family.settings.grant_button"))
        grant.bind(on_release=lambda *_: self.app.spawn(self.grant()))
        card.add_widget(grant)
        card.add_widget(self.delegate_message)

    @staticmethod
    def _paint(button: Btn, on: bool) -> None:
        button.background_color = theme.PRIMARY if on else theme.DIVIDER
        button.color = theme.ON_PRIMARY if on else theme.TEXT

    def _rule(self, kind: str) -> Preference | None:
        rule = self.rules.get(kind)
        if rule is None or rule.channels is None:
            rule = self.rules.get("*")
        return rule

    def _school_default(self, kind: str) -> bool:
        rule = self._rule(kind)
        return rule is None or rule.channels is None

    def _channels(self, kind: str) -> list[str]:
        """The person's channels for the kind; none shown lit while the school's defaults
        apply (the app does not guess them)."""
        rule = self._rule(kind)
        return [] if rule is None or rule.channels is None else list(rule.channels)

    async def toggle(self, kind: str, channel: str) -> None:
        channels = self._channels(kind)
        channels = (
            [c for c in channels if c != channel] if channel in channels else [*channels, channel]
        )
        try:
            await self.app.data.set_preference(
                {"kind": kind, "student_id": 0, "channels": channels}
            )
        except ApiError as exc:
            self.app.note(exc.message)
            return
        await self.reload()

    def _flip_digest(self) -> None:
        self.digest = not self.digest
        self.digest_button.text = t(
            "family.settings.digest_on" if self.digest else "family.settings.digest_off"
        )

    async def save_general(self) -> None:
        rule: dict[str, Any] = {
            "kind": "*",
            "student_id": 0,
            "mode": "digest" if self.digest else "instant",
        }
        if self.quiet_from.text.strip() and self.quiet_to.text.strip():
            rule["quiet_from"] = self.quiet_from.text.strip()
            rule["quiet_to"] = self.quiet_to.text.strip()
        else:
            rule["quiet_hours"] = False
        if self.digest and self.digest_at.text.strip():
            rule["digest_at"] = self.digest_at.text.strip()
        general = self.rules.get("*")
        if general is not None and general.channels is not None:
            rule["channels"] = general.channels
        try:
            await self.app.data.set_preference(rule)
        except ApiError as exc:
            self.app.note(exc.message)
            return
        await self.reload()

    def _flip_part(self, part: str) -> None:
        self.parts_chosen ^= {part}
        self._paint(self.part_buttons[part], part in self.parts_chosen)

    async def grant(self) -> None:
        child = self.app.child
        if child is None:
            return
        try:
            until = datetime.strptime(self.delegate_until.text.strip(), "%d.%m.%Y").replace(
                hour=23, minute=59, tzinfo=UTC
            )
        except ValueError:
            self.delegate_message.text = t("family.settings.bad_date")
            return
        try:
            made = await self.app.data.grant_delegate(
                child.student_id,
                self.delegate_name.text.strip(),
                [p for p in DELEGATE_PARTS if p in self.parts_chosen],
                until,
                self.delegate_phone.text.strip(),
            )
        except ApiError as exc:
            self.delegate_message.text = exc.message
            return
        await self.reload()
        if made.activation_code:
            self.app.note(t("family.settings.delegate_code", code=made.activation_code))

    async def revoke(self, delegate_id: int) -> None:
        try:
            await self.app.data.revoke_delegate(delegate_id)
        except ApiError as exc:
            self.app.note(exc.message)
            return
        await self.reload()
