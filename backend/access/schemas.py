"""API shapes of the access context: points, cards, gateways, the ingest batch, presence, log."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Literal

import msgspec

from backend.access.cards import CardFormat
from backend.accounts.schemas import Strict
from backend.core.bounds import documented

Id = Annotated[int, msgspec.Meta(gt=0, le=2_147_483_647)]
Lane = Annotated[int, msgspec.Meta(ge=1, le=99)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
CardText = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Direction = Literal["in", "out", "both"]
MAX_BATCH = 1000
Margin = Annotated[int, msgspec.Meta(ge=0, le=240, extra_json_schema=documented(minimum=0))]


class AccessPointCreate(Strict):
    name: Name
    direction: Direction = "both"
    lane: Lane = 1


class AccessPointUpdate(Strict):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    direction: Direction | msgspec.UnsetType = msgspec.UNSET
    lane: Lane | msgspec.UnsetType = msgspec.UNSET
    is_active: bool | msgspec.UnsetType = msgspec.UNSET


class AccessPoint(msgspec.Struct):
    id: int
    school_id: int
    name: str
    direction: str
    lane: int
    is_active: bool


class AccessCardCreate(Strict):
    raw_value: CardText
    card_format: CardFormat
    holder_kind: Literal["student", "staff"]
    holder_id: Id


class AccessCardBlock(Strict):
    reason: Literal["lost", "withdrawn"] = "lost"


class AccessCardReplace(Strict):
    raw_value: CardText
    card_format: CardFormat


class AccessCard(msgspec.Struct):
    id: int
    school_id: int
    raw_value: str
    card_format: str
    canonical: str
    holder_kind: str
    holder_id: int
    status: str
    blocked_reason: str
    issued_at: datetime | None
    blocked_at: datetime | None
    replaced_by: int | None


class AccessGatewayCreate(Strict):
    name: Name


class AccessGateway(msgspec.Struct):
    id: int
    school_id: int
    name: str
    is_active: bool
    last_seen_at: datetime | None
    clock_skew_seconds: int
    key_rotated_at: datetime | None
    previous_key_until: datetime | None
    created_at: datetime | None


class AccessGatewayWithKey(AccessGateway):
    """Shown once, when the key is made: the gateway's configuration needs it."""

    signing_key: str = ""


class AccessSettings(msgspec.Struct):
    school_id: int
    not_arrived_enabled: bool
    not_arrived_margin_minutes: int
    journal_presence: bool


class AccessSettingsUpdate(Strict):
    not_arrived_enabled: bool | msgspec.UnsetType = msgspec.UNSET
    not_arrived_margin_minutes: Margin | msgspec.UnsetType = msgspec.UNSET
    journal_presence: bool | msgspec.UnsetType = msgspec.UNSET


# ---- ingest ----------------------------------------------------------------------------------


class IngestEvent(Strict):
    """One pass as a controller recorded it."""

    device_event_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    card: CardText
    card_format: CardFormat
    access_point_id: Id
    direction: Literal["in", "out"]
    result: Literal["granted", "denied"]
    controller_time: datetime


class IngestBatch(Strict):
    """A gateway's batch. `sent_at`: the controllers' clock when this attempt left (measures the
    skew). An empty batch is a heartbeat."""

    events: Annotated[list[IngestEvent], msgspec.Meta(max_length=MAX_BATCH)]
    sent_at: datetime | None = None


class IngestResult(msgspec.Struct):
    received: int
    stored: int
    duplicates: int
    clock_skew_seconds: int
    refused_cards: int


# ---- presence and the log --------------------------------------------------------------------


class Pass(msgspec.Struct):
    id: int
    access_point_id: int | None
    direction: str
    result: str
    problem: str
    occurred_at: datetime
    received_at: datetime
    local_date: date


class SchoolPass(Pass):
    card_raw: str = ""
    card_format: str = ""
    holder_kind: str = ""
    holder_id: int | None = None
    gateway_id: int = 0


class EntryDay(msgspec.Struct):
    date: date
    first_entry_at: datetime | None
    last_exit_at: datetime | None
    inside: bool


class StudentEntries(msgspec.Struct):
    student_id: int
    days: list[EntryDay]
    passes: list[Pass]


class Inside(msgspec.Struct):
    holder_kind: str
    holder_id: int
    name: str
    class_name: str | None
    entered_at: datetime | None
    last_pass_at: datetime


class Presence(msgspec.Struct):
    school_id: int
    date: date
    students_inside: int
    staff_inside: int
    people: list[Inside]


class AbsentInside(msgspec.Struct):
    """A pupil marked absent in a lesson that had begun while the log says they were inside."""

    student_id: int
    name: str
    lesson_id: int
    lesson_number: int
    subject: str
    starts_at: time | None


class ClassAbsentInside(msgspec.Struct):
    class_id: int
    date: date
    items: list[AbsentInside]


class SchoolLog(msgspec.Struct):
    date: date
    items: list[SchoolPass]
    total: int
    limit: int
    offset: int
