"""Tables of the access context: access points, cards, gateways, the log of passes, alerts sent.

Schools, pupils and staff belong to the schools context: they are referred to by id (checked by
the schools services when written), not by foreign keys into another context's tables.
Instants are UTC; `local_date` is the pass's date on the school's clock.
"""

from pathlib import Path

from piccolo.columns import (
    BigInt,
    BigSerial,
    Boolean,
    Date,
    Integer,
    Serial,
    SmallInt,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.conf.apps import AppConfig
from piccolo.table import Table

from backend.core.db_index import Index


class AccessPoint(Table):
    """турникет, точка прохода: one lane of a turnstile or a door with a reader."""

    id = Serial(primary_key=True)
    school_id = Integer(index=True)
    name = Varchar(length=200)
    direction = Varchar(length=8, default="both")  # in | out | both
    lane = SmallInt(default=1)
    is_active = Boolean(default=True)
    created_at = Timestamptz()


class AccessCard(Table):
    """карта, браслет, брелок: the raw text and format a reader printed, its canonical id
    (backend/access/cards.py), and whose it is. A lost card is blocked, never deleted; a
    replacement is a new row and the old one points to it."""

    id = Serial(primary_key=True)
    school_id = Integer()
    raw_value = Varchar(length=64)
    card_format = Varchar(length=24)
    canonical = Varchar(length=24)
    key24 = Varchar(length=16, null=True, default=None)  # proximity cards: low 24 bits
    holder_kind = Varchar(length=8)  # student | staff
    holder_id = Integer()
    status = Varchar(length=8, default="active")  # active | blocked
    blocked_reason = Varchar(length=16, default="")  # lost | replaced | withdrawn
    issued_at = Timestamptz()
    blocked_at = Timestamptz(null=True, default=None)
    replaced_by = Integer(null=True, default=None)
    created_by = Integer(null=True, default=None)


class AccessGateway(Table):
    """шлюз на площадке школы: the on-site process that reads the controllers and posts
    signed batches. During a key rotation the previous key stays valid until
    `previous_key_until`. `clock_skew_seconds` is the controllers' clock minus the server's,
    as last estimated; `skew_window` the best sample of each of its latest minutes with a
    batch, `[[minute, seconds], ...]` (decision 0908)."""

    id = Serial(primary_key=True)
    school_id = Integer(index=True)
    name = Varchar(length=200)
    signing_key = Varchar(length=128, secret=True)
    previous_key = Varchar(length=128, null=True, default=None, secret=True)
    previous_key_until = Timestamptz(null=True, default=None)
    key_rotated_at = Timestamptz(null=True, default=None)
    is_active = Boolean(default=True)
    last_seen_at = Timestamptz(null=True, default=None)
    clock_skew_seconds = Integer(default=0)
    skew_reported = Boolean(default=False)
    skew_window = Text(default="[]")
    created_at = Timestamptz()


class AccessEvent(Table):
    """проход: one pass (or refusal) as a controller recorded it. Unique per (gateway, device
    event id), so a batch sent twice stores each pass once. `occurred_at` is the controller's
    time corrected by the gateway's measured skew; `received_at` when it reached the server."""

    id = BigSerial(primary_key=True)
    gateway_id = Integer()
    device_event_id = Varchar(length=64)
    school_id = Integer()
    access_point_id = Integer(null=True, default=None)
    card_raw = Varchar(length=64, default="")
    card_format = Varchar(length=24, default="")
    card_canonical = Varchar(length=24, default="")
    card_id = Integer(null=True, default=None)
    holder_kind = Varchar(length=8, default="")
    holder_id = Integer(null=True, default=None)
    direction = Varchar(length=4)  # in | out
    result = Varchar(length=8)  # granted | denied
    problem = Varchar(length=16, default="")  # unknown_card | blocked_card | bad_card | ""
    device_time = Timestamptz()
    occurred_at = Timestamptz()
    received_at = Timestamptz()
    local_date = Date()


class AccessAlert(Table):
    """An alert already raised (entered, exited, not arrived, absent but inside...), so that a
    retry, a late batch or a second run of a check raises nothing twice."""

    id = BigSerial(primary_key=True)
    school_id = Integer()
    student_id = Integer()
    local_date = Date()
    kind = Varchar(length=32)
    key = Varchar(length=32, default="")
    event_id = BigInt(null=True, default=None)
    created_at = Timestamptz()


class AccessSettings(Table):
    """A school's rules for entries: whether and when "has not arrived" is raised (minutes
    after the start of the pupil's first lesson), and whether the day's first entry marks
    presence in the journal (source «турникет», never over a teacher's mark)."""

    id = Serial(primary_key=True)
    school_id = Integer()
    not_arrived_enabled = Boolean(default=True)
    not_arrived_margin_minutes = SmallInt(default=15)
    journal_presence = Boolean(default=False)
    updated_at = Timestamptz()


INDEXES = [
    Index("access_settings_school", "access_settings", ("school_id",), unique=True),
    Index("access_card_canonical", "access_card", ("school_id", "canonical")),
    Index("access_card_key24", "access_card", ("school_id", "key24")),
    Index("access_card_holder", "access_card", ("holder_kind", "holder_id")),
    Index(
        "access_event_gateway_device",
        "access_event",
        ("gateway_id", "device_event_id"),
        unique=True,
    ),
    Index("access_event_school_day", "access_event", ("school_id", "local_date", "occurred_at")),
    Index(
        "access_event_holder_day",
        "access_event",
        ("holder_kind", "holder_id", "local_date", "occurred_at"),
    ),
    Index(
        "access_alert_once",
        "access_alert",
        ("student_id", "local_date", "kind", "key"),
        unique=True,
    ),
]

APP_CONFIG = AppConfig(
    app_name="access",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[
        AccessPoint,
        AccessCard,
        AccessGateway,
        AccessEvent,
        AccessAlert,
        AccessSettings,
    ],
    migration_dependencies=[],
    commands=[],
)
