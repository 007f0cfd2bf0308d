"""API shapes of messaging: devices, preferences, the inbox, announcements, delivery reports."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from backend.core.bounds import ID_ITEMS, MAX_ID, Id
from backend.core.schemas import Strict

HHMM = Annotated[str, msgspec.Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="ЧЧ:ММ")]
ChannelName = Literal["push", "telegram", "max", "email", "sms"]


class DeviceCreate(Strict):
    token: Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
    platform: Literal["android", "ios", "web"] = "android"


class PushReceiptIn(Strict):
    """What the app posts when a push reached the phone (the push's `delivery_id` and the
    phone's own device token)."""

    delivery_id: Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]
    token: Annotated[str, msgspec.Meta(min_length=1, max_length=512)]


class Device(msgspec.Struct):
    id: int
    platform: str
    is_active: bool
    created_at: datetime | None = None


class PreferenceIn(Strict):
    """One rule: for a kind of event ("*" = all) and a child (0 = all children). Fields left
    null follow the school's defaults."""

    kind: str = "*"
    student_id: Annotated[int, msgspec.Meta(ge=0, le=MAX_ID)] = 0
    channels: Annotated[list[ChannelName], msgspec.Meta(max_length=5)] | None = None
    mode: Literal["instant", "digest"] | None = None
    digest_at: HHMM | None = None
    quiet_from: HHMM | None = None
    quiet_to: HHMM | None = None
    # false: no quiet hours in this rule (then without quiet_from / quiet_to); left out or
    # true: the quiet hours given above, or the defaults.
    quiet_hours: bool | None = None
    muted: bool = False


class Preference(msgspec.Struct):
    kind: str
    student_id: int
    channels: list[str] | None
    mode: str | None
    digest_at: str | None
    quiet_from: str | None
    quiet_to: str | None
    muted: bool
    quiet_hours: bool | None = None  # false: this rule switches quiet hours off


class InboxItem(msgspec.Struct):
    id: int
    kind: str
    student_id: int | None
    title: str
    body: str
    urgent: bool
    created_at: datetime
    read_at: datetime | None


class InboxPage(msgspec.Struct):
    items: list[InboxItem]
    total: int
    unread: int
    limit: int
    offset: int


class ReadIn(Strict):
    """Mark these notifications read or unread: `ids`, or `all: true` for the whole inbox
    (one of the two; an empty request changes nothing by accident)."""

    ids: Annotated[list[Id], msgspec.Meta(max_length=500, extra_json_schema=ID_ITEMS)] | None = None
    all: bool = False
    read: bool = True


class ReadOut(msgspec.Struct):
    changed: int


class AnnouncementIn(Strict):
    school_id: Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=150)]
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    urgent: bool = False
    # One class of the school (its families on the day of sending); none: the whole school.
    class_id: Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)] | None = None


class AnnouncementOut(msgspec.Struct):
    event_id: int


class DeliveryStat(msgspec.Struct):
    channel: str
    status: str
    count: int
    sms_parts: int


class DeadLetter(msgspec.Struct):
    id: int
    event_id: int
    user_id: int
    channel: str
    status: str
    reason: str
    attempts: int
    dead: bool
    updated_at: datetime


class DeadLetterPage(msgspec.Struct):
    items: list[DeadLetter]
    total: int
    limit: int
    offset: int


class ChatLinkIn(Strict):
    """Which messenger the person wants to link a chat of (`telegram`)."""

    messenger: Annotated[str, msgspec.Meta(min_length=1, max_length=16)] = "telegram"


class ChatLink(msgspec.Struct):
    """A one-time code linking a messenger chat: open `deep_link` (when the bot's name is
    known), or send `code` to the bot. Both are spent by the first use and expire at
    `expires_at`."""

    messenger: str
    code: str
    payload: str
    deep_link: str | None
    expires_at: datetime
