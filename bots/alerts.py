"""The bot's alert settings: channels, quiet hours, a daily digest and which kinds to hear.

They are the person's rule for every kind and child (kind "*", child 0) and one rule per muted
kind, kept by the messaging services exactly as the app's settings screen keeps them; a value
never set shows the school's default.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from backend.core.context import Actor
from backend.events.kinds import CHANNELS, NOTIFIED
from backend.i18n import t
from backend.messaging import services as messaging
from bots.core import Button, Turn
from notifications.preferences import BUILT_IN

if TYPE_CHECKING:
    from bots.core import FamilyBot

Rows = tuple[tuple[Button, ...], ...]
QUIET_PRESETS = (("21:00", "07:00"), ("22:00", "07:00"), ("22:00", "08:00"))
_QUIET = re.compile(r"^\s*(\d{1,2})[:.](\d{2})\s*[-–—]\s*(\d{1,2})[:.](\d{2})\s*$")
RULE_FIELDS = ("channels", "mode", "digest_at", "quiet_from", "quiet_to", "muted")


def install(bot: FamilyBot) -> None:
    bot.commands["settings"] = show
    bot.buttons["alerts"] = show
    bot.buttons["aq"] = quiet
    bot.buttons["ac"] = channels
    bot.buttons["ak"] = kinds
    bot.buttons["ad"] = digest
    bot.answers["quiet"] = quiet_typed


async def _rules(actor: Actor) -> tuple[dict[str, Any], set[str]]:
    """The person's rule for everything, and the kinds they muted."""
    rows = await messaging.list_preferences(actor)
    general = next((r for r in rows if r["kind"] == "*" and not r["student_id"]), {})
    muted = {r["kind"] for r in rows if r["kind"] != "*" and not r["student_id"] and r["muted"]}
    return general, muted


async def _save(actor: Actor, general: dict[str, Any], **changes: Any) -> None:
    values = {k: general.get(k) for k in RULE_FIELDS}
    values["muted"] = bool(values["muted"])
    if general.get("quiet_hours") is False:
        values.update(quiet_from=None, quiet_to=None, quiet_hours=False)
    values.update(changes)
    if values.get("quiet_from") is not None:
        values.pop("quiet_hours", None)
    await messaging.set_preference(actor, {"kind": "*", "student_id": 0, **values})


async def add_channel(actor: Actor, channel: str) -> None:
    """A person who links a chat wants alerts there: the channel joins their rule."""
    if channel not in CHANNELS:
        return
    general, _ = await _rules(actor)
    current = list(general.get("channels") or BUILT_IN["channels"])
    if channel not in current:
        await _save(actor, general, channels=[*current, channel])


def _settings_text(general: dict[str, Any], muted: set[str]) -> str:
    default = t("bot.settings.default")
    chosen = general.get("channels")
    channels = ", ".join(t(f"bot.channel.{c}") for c in chosen or BUILT_IN["channels"])
    if general.get("quiet_hours") is False:
        quiet_text = t("bot.settings.quiet_off")
    elif general.get("quiet_from"):
        quiet_text = f"{general['quiet_from']}–{general['quiet_to']}"
    else:
        quiet_text = f"{BUILT_IN['quiet_from']}–{BUILT_IN['quiet_to']}{default}"
    mode = general.get("mode") or BUILT_IN["mode"]
    digest_text = (
        t("bot.settings.digest_on", at=general.get("digest_at") or BUILT_IN["digest_at"])
        if mode == "digest"
        else t("bot.settings.digest_off")
    )
    muted_text = ", ".join(
        t(f"notify.title.{k}").split(":")[0] for k in NOTIFIED if k in muted
    ) or t("bot.settings.nothing_muted")
    return t(
        "bot.settings.title",
        channels=channels + ("" if chosen else default),
        quiet=quiet_text,
        digest=digest_text,
        muted=muted_text,
    )


def _main_buttons() -> Rows:
    return (
        (Button(t("bot.settings.channels"), "ac"), Button(t("bot.settings.quiet"), "aq")),
        (Button(t("bot.settings.digest"), "ad"), Button(t("bot.settings.kinds"), "ak")),
        (Button(t("bot.menu.back"), "menu"),),
    )


async def show(turn: Turn, args: list[str]) -> None:
    assert turn.actor is not None
    general, muted = await _rules(turn.actor)
    await turn.say(_settings_text(general, muted), _main_buttons())


async def _saved(turn: Turn) -> None:
    assert turn.actor is not None
    general, muted = await _rules(turn.actor)
    text = f"{t('bot.settings.saved')}\n\n{_settings_text(general, muted)}"
    await turn.say(text, _main_buttons())


async def quiet(turn: Turn, args: list[str]) -> None:
    """`aq`: ask (presets as buttons, or a typed interval); `aq:off`; `aq:2200-0700`."""
    assert turn.actor is not None
    if not args:
        await turn.put(awaiting="quiet")
        rows = (
            *tuple(
                (Button(f"{a}–{b}", f"aq:{a.replace(':', '')}-{b.replace(':', '')}"),)
                for a, b in QUIET_PRESETS
            ),
            (Button(t("bot.settings.quiet_button_off"), "aq:off"),),
        )
        await turn.say(t("bot.settings.quiet_ask"), rows)
        return
    general, _ = await _rules(turn.actor)
    await turn.put(awaiting=None)
    if args[0] == "off":
        await _save(turn.actor, general, quiet_from=None, quiet_to=None, quiet_hours=False)
    else:
        start, _, end = args[0].partition("-")
        await _save(
            turn.actor,
            general,
            quiet_from=f"{start[:2]}:{start[2:]}",
            quiet_to=f"{end[:2]}:{end[2:]}",
        )
    await _saved(turn)


async def quiet_typed(turn: Turn, args: list[str]) -> None:
    """A typed answer to the quiet-hours question: "22:00-07:00"."""
    assert turn.actor is not None
    found = _QUIET.match(args[0] if args else "")
    if not found:
        await turn.say(t("bot.settings.quiet_bad"))
        return
    h1, m1, h2, m2 = (int(x) for x in found.groups())
    general, _ = await _rules(turn.actor)
    await _save(turn.actor, general, quiet_from=f"{h1:02d}:{m1:02d}", quiet_to=f"{h2:02d}:{m2:02d}")
    await turn.put(awaiting=None)
    await _saved(turn)


async def channels(turn: Turn, args: list[str]) -> None:
    """`ac`: the channels with their state; `ac:<channel>` switches one (never the last)."""
    assert turn.actor is not None
    general, _ = await _rules(turn.actor)
    current = list(general.get("channels") or BUILT_IN["channels"])
    if args and args[0] in CHANNELS:
        if args[0] in current and len(current) > 1:
            current.remove(args[0])
        elif args[0] not in current:
            current.append(args[0])
        await _save(turn.actor, general, channels=current)
    rows = (
        *tuple(
            (
                Button(
                    t(
                        "bot.settings.on" if c in current else "bot.settings.off",
                        name=t(f"bot.channel.{c}"),
                    ),
                    f"ac:{c}",
                ),
            )
            for c in CHANNELS
        ),
        (Button(t("bot.menu.back"), "alerts"),),
    )
    await turn.say(t("bot.settings.channels_ask"), rows)


async def kinds(turn: Turn, args: list[str]) -> None:
    """`ak`: the kinds of alert with their state; `ak:<n>` mutes or unmutes the n-th."""
    assert turn.actor is not None
    _, muted = await _rules(turn.actor)
    if args and args[0].isdigit() and int(args[0]) < len(NOTIFIED):
        kind = NOTIFIED[int(args[0])]
        await messaging.set_preference(
            turn.actor, {"kind": kind, "student_id": 0, "muted": kind not in muted}
        )
        muted ^= {kind}
    rows = (
        *tuple(
            (
                Button(
                    t(
                        "bot.settings.off" if k in muted else "bot.settings.on",
                        name=t(f"notify.title.{k}").split(":")[0],
                    ),
                    f"ak:{n}",
                ),
            )
            for n, k in enumerate(NOTIFIED)
        ),
        (Button(t("bot.menu.back"), "alerts"),),
    )
    await turn.say(t("bot.settings.kinds_ask"), rows)


async def digest(turn: Turn, args: list[str]) -> None:
    """`ad`: switch between alerts at once and one digest a day."""
    assert turn.actor is not None
    general, _ = await _rules(turn.actor)
    mode = general.get("mode") or BUILT_IN["mode"]
    await _save(turn.actor, general, mode="instant" if mode == "digest" else "digest")
    await _saved(turn)
