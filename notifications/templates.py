"""Texts of notifications per kind and channel, from the Russian message catalogue, within each
channel's limits. Services abroad get a neutral text unless cross-border consent allows more."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from backend.events.kinds import PASSWORD_RESET_CODE
from backend.i18n import has, t

TELEGRAM_LIMIT = 4096
# MAX: NewMessageBody.text is at most 4000 characters (maxapi checks for fewer than 4000).
MAX_LIMIT = 3999
PUSH_TITLE_LIMIT = 100
PUSH_BODY_LIMIT = 240
SMS_MAX_PARTS = 3
SMS_UCS2_SINGLE, SMS_UCS2_PART = 70, 67
SMS_GSM_SINGLE, SMS_GSM_PART = 160, 153


@dataclass(frozen=True, slots=True)
class Rendered:
    title: str
    text: str


_SEXES = {"м": "m", "ж": "f"}


class _Defaults(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def _fmt_date(value: Any) -> str:
    if not value:
        return ""
    try:
        return date.fromisoformat(str(value)[:10]).strftime("%d.%m.%Y")
    except ValueError:
        return str(value)


def render(
    kind: str, payload: dict[str, Any], *, student: str = "", sex: str = "", school: str = ""
) -> Rendered:
    """The full title and text (for our own inbox, and channels allowed to carry them). `sex`
    ("м", "ж" or "" when unknown) makes the verbs agree: «опоздал», «опоздала», «опоздал(а)»."""
    if kind == PASSWORD_RESET_CODE:
        return Rendered(t("notify.title.account.password_reset_code"), str(payload.get("text", "")))
    params = _Defaults({k: "" if v is None else v for k, v in payload.items()})
    params["student"] = student or params["student_name"]
    params["school"] = school
    params["was_late"] = t(f"notify.part.was_late.{_SEXES.get(sex, 'unknown')}")
    work = params.get("work_kind") or params.get("work")
    params["work"] = t("notify.part.work", work=work) if work else ""
    day = _fmt_date(params.get("date") or params.get("lesson_date"))
    params["date"] = t("notify.part.date", date=day) if day else ""
    at = params.get("occurred_at") or params.get("time")
    if at and "T" in str(at):
        params["time"] = str(at).split("T", 1)[1][:5]
    title_key = f"notify.title.{kind}" if has(f"notify.title.{kind}") else "notify.title.default"
    text_key = f"notify.text.{kind}" if has(f"notify.text.{kind}") else "notify.text.default"
    title = _format(title_key, params).strip()
    text = _format(text_key, params).strip()
    return Rendered(clip(title, 200), text)


def _format(key: str, params: dict[str, Any]) -> str:
    return t(key).format_map(params)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _ascii(text: str) -> bool:
    try:
        text.encode("ascii")
    except UnicodeEncodeError:
        return False
    return True


def sms_parts(text: str) -> int:
    """How many SMS parts a text takes: UCS-2 70 characters alone, 67 per part when split;
    GSM 7-bit 160 / 153."""
    single, part = (
        (SMS_GSM_SINGLE, SMS_GSM_PART) if _ascii(text) else (SMS_UCS2_SINGLE, SMS_UCS2_PART)
    )
    n = len(text.encode("utf-16-be")) // 2 if not _ascii(text) else len(text)
    return 1 if n <= single else -(-n // part)


def sms_text(text: str, max_parts: int = SMS_MAX_PARTS) -> str:
    """Clip a text to at most `max_parts` parts (SMS is paid per part)."""
    limit = (SMS_GSM_PART if _ascii(text) else SMS_UCS2_PART) * max_parts
    return clip(text, limit)


def email_html(title: str, text: str, lines: list[str] | None = None) -> str:
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines or [])
    body = f"<ul>{items}</ul>" if items else f"<p>{html.escape(text)}</p>"
    return (
        '<!DOCTYPE html><html lang="ru"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>"
        '<body style="font-family: sans-serif">'
        f"<p>{html.escape(t('notify.email.greeting'))}</p>"
        f"<h2>{html.escape(title)}</h2>{body}"
        f'<hr><p style="color:#666;font-size:small">{html.escape(t("notify.email.footer"))}</p>'
        "</body></html>"
    )


def email_plain(title: str, text: str, lines: list[str] | None = None) -> str:
    body = "\n".join(f"- {line}" for line in lines) if lines else text
    return (
        f"{t('notify.email.greeting')}\n\n{title}\n\n{body}\n\n-- \n"
        f"{t('notify.email.footer')}\n{t('notify.email.signature')}\n"
    )


def digest_title(day: date) -> str:
    return t("notify.digest.title", date=day.strftime("%d.%m.%Y"))


def now_str(moment: datetime) -> str:
    return moment.strftime("%H:%M")
