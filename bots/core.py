"""The family bot's conversation, written once for every messenger (docs/bot.md).

An adapter (Telegram: `bots.telegram`; MAX: its own module) turns the messenger's updates into
two calls and implements one small port for the answers:

    bot = FamilyBot(settings, redis, diary_weeks, payments)   # one per process
    await bot.on_text(chat, chat_id, text)                # a message typed in a chat
    await bot.on_button(chat, chat_id, message_id, callback_id, data)   # a button pressed

    class Chat(Protocol):                                 # the adapter's side
        messenger: str                                    # "telegram", "max": the link registry
        async def send(self, chat_id: int, reply: Reply) -> str        # -> the new message's id
        async def edit(self, chat_id: int, message_id: str, reply: Reply) -> None
        async def answer(self, callback_id: str, text: str = "") -> None

`Reply` is a text and rows of `Button`s (a label and its data, at most 64 bytes: Telegram's
limit for callback data, or a label and a URL to open); the adapter draws them as the
messenger's inline keyboard and hands the data back to `on_button` when pressed. `edit`
replaces a message in place and must treat "the message is not modified" as success.
`send`/`edit` raise `ChatGone` when the messenger says the person blocked the bot: the chat is
then unlinked. The adapter paces its own sends with the notifications worker's limits (one
shared limit per bot and per chat, in Redis).

Everything else is here: who the chat is (linking by one-time code, `/stop`), the person's
rights (an `Actor` for the linked person, built from their live grants at each update, so the
backend services check exactly what the API checks), the commands and buttons, the texts (the
message catalogue, `bot.*`) and errors (a short Russian message to the person, the trace to the
log). Conversation state (the chosen child, what a typed text answers) is a Redis hash per chat.

Data abroad (decision 0620): on a messenger abroad (`ABROAD`: Telegram) a child's data is shown
only when `consent.cross_border_allowed` says so, the rule the notifications obey too. A child
it does not allow is a `Child` with `hidden` set and a name that names nobody («Ребёнок 1»);
every child-bound answer goes through `current_child` / `visible_child`, which explain instead
(and offer a legal representative the consent: the `xb` button, `/withdraw`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from redis.asyncio import Redis

from backend.accounts.services import current_principal
from backend.core.context import Actor
from backend.core.errors import DomainError
from backend.core.rights import Role, ScopeKind
from backend.i18n import t
from backend.journal.weeks import DiaryWeeks
from backend.meals.payments import Payments
from backend.messaging import links
from backend.messaging import services as messaging
from backend.schools.people import consent
from backend.schools.people import services as people
from backend.settings import Settings

log = logging.getLogger("parta.bot")

CALLBACK_LIMIT = 64  # bytes of a button's data (Telegram's callback_data)
STATE_PREFIX = "parta:bot"
STATE_SECONDS = 30 * 24 * 3600  # a chat silent for a month starts afresh
FAMILY_ROLES = (Role.GUARDIAN, Role.DELEGATE, Role.PUPIL)
# Updates an adapter answers at once (the rest wait: Telegram's polling semaphore and webhook
# max_connections, MAX's update tasks). Unbounded, a burst of a hundred chats took every Redis
# connection of the process and answers failed (tests/load/bench_bot.py).
CONCURRENCY = 40
# Messengers run from abroad: a child's data goes there only under the cross-border rule. MAX
# is operated in Russia (decision 0605).
ABROAD = frozenset({"telegram"})
CONSENT_SOURCE = "Telegram-бот"  # the consent's `document_ref`: where it was given


# ---- the port an adapter implements ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Button:
    """A button under a message: pressing it hands `data` back to the core, or, for a link
    button (`url` set, no data), opens the page in the person's browser (a payment page)."""

    text: str
    data: str = ""
    url: str = ""

    def __post_init__(self) -> None:
        if len(self.data.encode()) > CALLBACK_LIMIT:
            raise ValueError(f"button data over {CALLBACK_LIMIT} bytes: {self.data!r}")
        if bool(self.data) == bool(self.url):
            raise ValueError(f"a button has either data or a url: {self.text!r}")


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()


class ChatGone(Exception):
    """The messenger refused a send because the person blocked the bot or left the chat."""


class NotAnswered(Exception):
    """The update could not be answered for a passing reason (the database, Redis or the
    messenger out of reach): the adapter's inbox tries it again later (decision 0609), rather
    than the person hearing of an error or nothing at all."""


def transient(exc: BaseException) -> bool:
    """An error that trying again later can cure: a server out of reach or going away."""
    import asyncpg
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    passing = (
        NotAnswered,
        OSError,  # refused, reset, timed out (TimeoutError is one)
        RedisConnectionError,
        RedisTimeoutError,
        asyncpg.PostgresConnectionError,
        asyncpg.InterfaceError,  # "connection is closed"
        asyncpg.exceptions.OperatorInterventionError,  # shutting down, starting up
    )
    seen: BaseException | None = exc
    for _ in range(5):  # the error itself and what it was raised from
        if seen is None:
            return False
        if isinstance(seen, passing):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class Chat(Protocol):
    messenger: str

    async def send(self, chat_id: int, reply: Reply) -> str: ...

    async def edit(self, chat_id: int, message_id: str, reply: Reply) -> None: ...

    async def answer(self, callback_id: str, text: str = "") -> None: ...


# ---- one update in progress ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Child:
    id: int
    name: str
    role: Role
    # Why this chat may not show the child's data (no consent, the school forbids); None: it may.
    hidden: consent.CrossBorder | None = None


@dataclass
class Turn:
    """One update being answered: the chat, who is linked to it, and how to answer (a new
    message for a typed text, the pressed message edited in place for a button)."""

    bot: FamilyBot
    chat: Chat
    chat_id: int
    message_id: str = ""  # set for a button press: answers edit this message
    actor: Actor | None = None
    _children: list[Child] | None = field(default=None, repr=False)

    @property
    def state_key(self) -> str:
        return f"{STATE_PREFIX}:{self.chat.messenger}:{self.chat_id}"

    async def say(self, text: str, buttons: tuple[tuple[Button, ...], ...] = ()) -> None:
        reply = Reply(text, buttons)
        if self.message_id:
            await self.chat.edit(self.chat_id, self.message_id, reply)
        else:
            await self.chat.send(self.chat_id, reply)

    async def get(self, name: str) -> str | None:
        value = await self.bot.redis.hget(self.state_key, name)
        return value.decode() if isinstance(value, bytes) else value

    async def put(self, **values: str | None) -> None:
        gone = [k for k, v in values.items() if v is None]
        kept = {k: v for k, v in values.items() if v is not None}
        async with self.bot.redis.pipeline(transaction=True) as pipe:
            if gone:
                pipe.hdel(self.state_key, *gone)
            for name, value in kept.items():
                pipe.hset(self.state_key, name, value)
            pipe.expire(self.state_key, STATE_SECONDS)
            await pipe.execute()

    async def children(self) -> list[Child]:
        """The children the linked person acts for (their grants at a pupil), by name."""
        if self._children is None:
            assert self.actor is not None and self.actor.principal is not None
            roles: dict[int, Role] = {}
            for g in self.actor.principal.live_grants():
                if g.scope_kind is ScopeKind.STUDENT and g.scope_id and g.role in FAMILY_ROLES:
                    roles.setdefault(g.scope_id, g.role)
            cards = await people.family_cards(set(roles))
            found = sorted(
                (Child(sid, _child_name(cards[sid]), roles[sid]) for sid in roles if sid in cards),
                key=lambda c: c.name,
            )
            if self.chat.messenger in ABROAD:
                found = await _abroad(found)
            self._children = found
        return self._children

    def forget_children(self) -> None:
        """Read the children again (a consent was just given or withdrawn)."""
        self._children = None

    async def child(self, student_id: int) -> Child | None:
        """The child, only when it is one of this person's (any other id: None, nothing said)."""
        return next((c for c in await self.children() if c.id == student_id), None)


async def _abroad(children: list[Child]) -> list[Child]:
    """The children as a chat abroad may see them: those the cross-border rule does not allow
    are hidden, named only by their place in the list (by id, so the place stays put)."""
    status = await consent.cross_border_status(c.id for c in children)
    places = {c.id: n for n, c in enumerate(sorted(children, key=lambda c: c.id), start=1)}
    shown = []
    for c in children:
        why = status.get(c.id, consent.CrossBorder.NO_CONSENT)
        if why is consent.CrossBorder.ALLOWED:
            shown.append(c)
        else:
            name = t("bot.consent.child", number=places[c.id])
            shown.append(Child(c.id, name, c.role, hidden=why))
    return sorted(shown, key=lambda c: (c.hidden is not None, c.name))


def _child_name(card: dict[str, Any]) -> str:
    name = f"{card['first_name']} {card['last_name']}".strip()
    return f"{name}, {card['class_name']}" if card.get("class_name") else name


Handler = Callable[[Turn, list[str]], Awaitable[None]]


# ---- the conversation ------------------------------------------------------------------------


class FamilyBot:
    """The conversation core, shared by every adapter of a process."""

    def __init__(
        self,
        settings: Settings,
        redis: Redis,
        diary_weeks: DiaryWeeks,
        payments: Payments | None = None,
    ) -> None:
        from bots import alerts, diary, entries, meals

        self.settings, self.redis, self.diary_weeks = settings, redis, diary_weeks
        # The meals top-ups' provider: the process's own (the composition root's), or one
        # built from the same settings.
        self.payments = payments or Payments.from_settings(settings)
        # Commands of linked chats (`/name`) and buttons (`prefix:arg:arg`), by feature.
        self.commands: dict[str, Handler] = {
            "help": self._help,
            "children": self._children,
            "withdraw": self._withdraw,
        }
        self.buttons: dict[str, Handler] = {
            "menu": self._menu,
            "child": self._choose,
            "children": self._children,
            "xb": self._give_consent,
        }
        # A typed text that answers a question the bot asked (`awaiting` in the chat's state).
        self.answers: dict[str, Handler] = {}
        for feature in (diary, alerts, entries, meals):
            feature.install(self)

    # -- entry points of the adapters ----------------------------------------------------------

    async def on_text(self, chat: Chat, chat_id: int, text: str) -> None:
        """A message typed in the chat."""
        turn = Turn(self, chat, chat_id)
        await self._guarded(turn, self._text(turn, text.strip()))

    async def on_button(
        self, chat: Chat, chat_id: int, message_id: str, callback_id: str, data: str
    ) -> None:
        """A button pressed under the message `message_id`; the press is answered at once."""
        turn = Turn(self, chat, chat_id, message_id=message_id)
        try:
            await chat.answer(callback_id)
        except ChatGone:
            await self.unlink(chat.messenger, chat_id)
            return
        except Exception:  # the spinner on the button stops by itself: go on
            log.warning("callback answer failed", exc_info=True)
        await self._guarded(turn, self._button(turn, data))

    async def unlink(self, messenger: str, chat_id: int, reason: str = "blocked") -> int | None:
        """The person blocked the bot (or said /stop): the chat is unlinked and forgotten."""
        user_id = await messaging.unlink_chat(Actor.system(), messenger, chat_id, reason)
        await self.redis.delete(f"{STATE_PREFIX}:{messenger}:{chat_id}")
        return user_id

    # -- errors --------------------------------------------------------------------------------

    async def _guarded(self, turn: Turn, work: Awaitable[None]) -> None:
        try:
            await work
        except ChatGone:
            await self.unlink(turn.chat.messenger, turn.chat_id)
        except DomainError as exc:  # an expected refusal: its Russian message is the answer
            await self._tell(turn, exc.message)
        except Exception as exc:
            if transient(exc):
                raise NotAnswered(repr(exc)) from exc
            log.exception(
                "bot update failed",
                extra={"messenger": turn.chat.messenger, "chat_id": turn.chat_id},
            )
            await self._tell(turn, t("bot.error"))

    async def _tell(self, turn: Turn, text: str) -> None:
        try:
            await turn.chat.send(turn.chat_id, Reply(text))
        except ChatGone:
            await self.unlink(turn.chat.messenger, turn.chat_id)
        except Exception as exc:
            if transient(exc):
                raise NotAnswered(repr(exc)) from exc
            log.exception("bot could not report an error", extra={"chat_id": turn.chat_id})

    # -- dispatch ------------------------------------------------------------------------------

    async def _who(self, turn: Turn) -> bool:
        """Find the linked person of the chat; False when nobody (or a disabled account) is."""
        user_id = await messaging.chat_owner(turn.chat.messenger, turn.chat_id)
        if user_id is None:
            return False
        principal = await current_principal(user_id)
        if principal is None:
            return False
        turn.actor = Actor(
            principal=principal, request_id=f"bot:{turn.chat.messenger}:{turn.chat_id}"
        )
        return True

    async def _text(self, turn: Turn, text: str) -> None:
        command, _, rest = text.partition(" ")
        if command.startswith("/"):
            name = command[1:].split("@", 1)[0].lower()
            if name == "start":
                await self._start(turn, rest.strip())
                return
            if name == "stop":
                await self._stop(turn)
                return
            if not await self._who(turn):
                await turn.say(t("bot.not_linked"))
                return
            await turn.put(awaiting=None)
            handler = self.commands.get(name)
            if handler is None:
                await turn.say(t("bot.unknown"))
                return
            await handler(turn, rest.split())
            return
        linked = await self._who(turn)
        awaiting = await turn.get("awaiting") if linked else None
        if awaiting and awaiting in self.answers:
            await self.answers[awaiting](turn, [text])
            return
        if links.looks_like_code(text):
            await self._link(turn, text)
            return
        await turn.say(t("bot.unknown") if linked else t("bot.not_linked"))

    async def _button(self, turn: Turn, data: str) -> None:
        if not await self._who(turn):
            await turn.say(t("bot.not_linked"))
            return
        prefix, *args = data.split(":")
        handler = self.buttons.get(prefix)
        if handler is None:
            await turn.say(t("bot.unknown"))
            return
        # A press leaves any question unanswered (a handler that asks one sets it again): a
        # number typed after leaving the top-up, or a time after leaving quiet hours, is not
        # taken as their answer.
        if await turn.get("awaiting"):
            await turn.put(awaiting=None)
        await handler(turn, args)

    # -- linking -------------------------------------------------------------------------------

    async def _start(self, turn: Turn, payload: str) -> None:
        if payload:
            await self._link(turn, payload)
            return
        if await self._who(turn):
            await self._menu(turn, [])
            return
        await turn.say(t("bot.welcome"))

    async def _link(self, turn: Turn, code: str) -> None:
        await links.redeem_code(self.redis, self.settings, turn.chat.messenger, turn.chat_id, code)
        await self.redis.delete(turn.state_key)
        await self._who(turn)
        assert turn.actor is not None and turn.actor.principal is not None
        from bots import alerts

        await alerts.add_channel(turn.actor, turn.chat.messenger)
        await turn.say(t("bot.linked", name=turn.actor.principal.display_name))
        await self._menu(turn, [])

    async def _stop(self, turn: Turn) -> None:
        user_id = await self.unlink(turn.chat.messenger, turn.chat_id, reason="stopped")
        await turn.say(t("bot.stopped") if user_id is not None else t("bot.stopped_not_linked"))

    # -- children and the menu -----------------------------------------------------------------

    async def current_child(self, turn: Turn, then: str) -> Child | None:
        """The chat's chosen child; with several and none chosen, asks (the buttons carry
        `then`, the button data to go on with: `{id}` in it is replaced by the child's id)."""
        children = await turn.children()
        if not children:
            await turn.say(t("bot.no_children"))
            return None
        if all(c.hidden for c in children):  # nobody to choose between: say why at once
            await self.explain_hidden(turn, children)
            return None
        if len(children) == 1:
            return children[0]
        chosen = await turn.get("child")
        if chosen is not None:
            found = await turn.child(int(chosen))
            if found is not None:
                return found if await self.shown(turn, found) else None
        await self._ask_child(turn, then)
        return None

    async def visible_child(self, turn: Turn, student_id: str | int | None) -> Child | None:
        """The child of a child-bound button or answer: one of the person's children whose data
        this chat may show; otherwise says why (no such child; no consent, the school forbids)
        and gives None."""
        text = str(student_id or "")
        child = await turn.child(int(text)) if text.isdigit() else None
        if child is None:
            await turn.say(t("bot.child_unknown"))
            return None
        return child if await self.shown(turn, child) else None

    async def shown(self, turn: Turn, child: Child) -> bool:
        """Whether this chat may show the child's data; if not, it says why instead."""
        if child.hidden is None:
            return True
        await self.explain_hidden(turn, [child])
        return False

    async def explain_hidden(self, turn: Turn, children: list[Child]) -> None:
        """Why these children's data is not shown here, and the way out: the consent to give
        (to a legal representative of one of them), the school's ban, or who can consent."""
        assert turn.actor is not None and turn.actor.user_id is not None
        lacking = [c.id for c in children if c.hidden is consent.CrossBorder.NO_CONSENT]
        guardians = [c.id for c in children if c.role is Role.GUARDIAN and c.id in lacking]
        mine = await consent.represented_by(turn.actor.user_id, guardians)
        others: tuple[tuple[Button, ...], ...] = ()
        if len(await turn.children()) > 1:
            others = ((Button(t("bot.menu.children"), "children"),),)
        if mine:
            principal = turn.actor.principal
            name = principal.display_name if principal else ""
            rows = ((Button(t("bot.consent.give"), "xb"),), *others)
            await turn.say(t("bot.consent.ask", guardian=name), rows)
        elif any(c.hidden is consent.CrossBorder.FORBIDDEN for c in children):
            await turn.say(t("bot.consent.forbidden"), others)
        else:
            await turn.say(t("bot.consent.who_can"), others)

    async def _give_consent(self, turn: Turn, args: list[str]) -> None:
        """`xb`: the legal representative pressed «Даю согласие» under its wording: a
        cross-border consent for each child they represent here, from today (audited)."""
        assert turn.actor is not None
        lacking = [c.id for c in await turn.children() if c.hidden]
        given = await consent.give_cross_border(turn.actor, lacking, CONSENT_SOURCE)
        turn.forget_children()
        if not given:  # nothing this person may consent to (or consented already)
            await self._menu(turn, [])
            return
        day = given[0]["given_on"].strftime("%d.%m.%Y")
        rows = ((Button(t("bot.consent.open_menu"), "menu"),),)
        await turn.say(t("bot.consent.given", date=day), rows)

    async def _withdraw(self, turn: Turn, args: list[str]) -> None:
        """`/withdraw`: a legal representative withdraws the cross-border consent of their
        children, from today (audited); the chat shows their data no more."""
        assert turn.actor is not None and turn.actor.user_id is not None
        ids = [c.id for c in await turn.children()]
        withdrawn = await consent.withdraw_cross_border(turn.actor, ids)
        turn.forget_children()
        if withdrawn:
            day = withdrawn[0]["revoked_on"].strftime("%d.%m.%Y")
            await turn.say(t("bot.consent.withdrawn", date=day))
        elif await consent.represented_by(turn.actor.user_id, ids):
            await turn.say(t("bot.consent.nothing_to_withdraw"))
        else:
            await turn.say(t("bot.consent.withdraw_who_can"))

    async def _ask_child(self, turn: Turn, then: str) -> None:
        children = await turn.children()
        rows = tuple((Button(c.name, f"child:{c.id}:{then.replace(':', '.')}"),) for c in children)
        await turn.say(t("bot.choose_child"), rows)

    async def _choose(self, turn: Turn, args: list[str]) -> None:
        """`child:<id>[:<then>]`: remember the child, then go on where the person was going."""
        child = await turn.child(int(args[0])) if args and args[0].isdigit() else None
        if child is None:
            await turn.say(t("bot.child_unknown"))
            return
        await turn.put(child=str(child.id))
        then = args[1].replace(".", ":") if len(args) > 1 and args[1] else "menu"
        prefix, *rest = then.split(":")
        handler = self.buttons.get(prefix, self._menu)
        # Child-bound buttons carry the child's id first; `then` was given without it.
        await handler(turn, [str(child.id), *rest])

    async def _children(self, turn: Turn, args: list[str]) -> None:
        if not await turn.children():
            await turn.say(t("bot.no_children"))
            return
        await self._ask_child(turn, "menu")

    async def _help(self, turn: Turn, args: list[str]) -> None:
        await turn.say(t("bot.help"))

    async def _menu(self, turn: Turn, args: list[str]) -> None:
        """The child's menu (`menu:<id>` from a button, or the chosen child)."""
        if args and args[0].isdigit():
            child = await self.visible_child(turn, args[0])
            if child is None:
                return
            await turn.put(child=str(child.id))
            await turn.say(t("bot.menu.title", name=child.name), menu_buttons(child))
            return
        child = await self.current_child(turn, "menu")
        if child is None:
            return
        await turn.say(t("bot.menu.title", name=child.name), menu_buttons(child))


def menu_buttons(child: Child) -> tuple[tuple[Button, ...], ...]:
    def b(key: str, data: str) -> Button:
        return Button(t(f"bot.menu.{key}"), data)

    sid = child.id
    rows: list[tuple[Button, ...]] = [
        (b("today", f"day:{sid}:0"), b("tomorrow", f"day:{sid}:1")),
        (b("week", f"week:{sid}:0"), b("timetable", f"tt:{sid}:0")),
        (b("marks", f"marks:{sid}"), b("homework", f"hw:{sid}")),
        (b("attendance", f"att:{sid}"), b("entries", f"ent:{sid}")),
        (b("meals", f"mm:{sid}:1"), b("settings", "alerts")),
    ]
    last = [b("children", "children")]
    if child.role is Role.GUARDIAN:
        last.insert(0, b("ill", f"ill:{sid}"))
    rows.append(tuple(last))
    return tuple(rows)
