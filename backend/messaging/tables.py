"""Tables of the messaging context: where a person can be reached, what they want to hear,
the in-app inbox (one notification per event and person) and the deliveries of each.

A delivery is unique per (event, person, channel): a relay or a worker that runs twice finds
the row already there and sends nothing twice. Instants are UTC; quiet hours and digest times
are local times of the school's time zone ("HH:MM").
"""

from pathlib import Path

from piccolo.columns import (
    JSONB,
    BigInt,
    BigSerial,
    Boolean,
    Integer,
    SmallInt,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.conf.apps import AppConfig
from piccolo.table import Table

from backend.core.db_index import Index


class DeviceToken(Table):
    """A push token (FCM registration token) the app registered for a signed-in person."""

    id = BigSerial(primary_key=True)
    user_id = Integer(index=True)
    token = Varchar(length=512)
    platform = Varchar(length=16, default="android")  # android | ios | web
    is_active = Boolean(default=True)
    created_at = Timestamptz()
    last_seen_at = Timestamptz()
    disabled_at = Timestamptz(null=True, default=None)
    disabled_reason = Varchar(length=64, default="")


class MessengerChat(Table):
    """A messenger chat (Telegram or MAX) linked to a person by the family bot; unlinked by
    /stop or when the person blocks the bot. One table for both messengers (decision 0605):
    the bot core, the worker's addresses and the unlinking are the same code for each."""

    id = BigSerial(primary_key=True)
    user_id = Integer(index=True)
    messenger = Varchar(length=16, default="telegram")  # telegram | max
    # Telegram: the private chat's id (the person's id); MAX: the dialog's chat_id.
    chat_id = BigInt()
    linked_at = Timestamptz()
    unlinked_at = Timestamptz(null=True, default=None)
    unlinked_reason = Varchar(length=64, default="")


class NotificationPreference(Table):
    """What one person wants to hear about one kind of event (or "*" for all kinds), for one
    child (0 = all children). Fields left null take the school's defaults."""

    id = BigSerial(primary_key=True)
    user_id = Integer(index=True)
    kind = Varchar(length=64, default="*")
    student_id = Integer(default=0)
    channels = JSONB(null=True, default=None)  # ["push", "max"] in order of preference
    mode = Varchar(length=16, null=True, default=None)  # instant | digest
    digest_at = Varchar(length=5, null=True, default=None)  # "19:00"
    quiet_from = Varchar(length=5, null=True, default=None)  # "21:00"
    quiet_to = Varchar(length=5, null=True, default=None)  # "07:00"
    muted = Boolean(default=False)
    updated_at = Timestamptz()


class Notification(Table):
    """One event as one person's inbox sees it (read or unread, by child)."""

    id = BigSerial(primary_key=True)
    event_id = BigInt()
    user_id = Integer()
    student_id = Integer(null=True, default=None)
    school_id = Integer(null=True, default=None)
    kind = Varchar(length=64)
    title = Varchar(length=200)
    body = Text()
    urgent = Boolean(default=False)
    created_at = Timestamptz()
    read_at = Timestamptz(null=True, default=None)


class Delivery(Table):
    """One notification on one channel: status, attempts and the provider's id.

    status: queued | waiting (quiet hours) | digest (gathered later) | sending | sent |
    delivered | failed | skipped. `dead` marks a failed one an operator may replay.
    """

    id = BigSerial(primary_key=True)
    notification_id = BigInt()
    event_id = BigInt()
    user_id = Integer()
    school_id = Integer(null=True, default=None)
    channel = Varchar(length=16)
    status = Varchar(length=16, default="queued")
    reason = Varchar(length=300, default="")
    attempts = Integer(default=0)
    provider_id = Varchar(length=200, default="")
    address = Varchar(length=300, default="")
    parts = SmallInt(default=0)
    dead = Boolean(default=False)
    scheduled_for = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    sent_at = Timestamptz(null=True, default=None)
    delivered_at = Timestamptz(null=True, default=None)
    meta = JSONB(default={})


class BotUpdate(Table):
    """An update a messenger handed to the family bot, kept until it is answered (decision
    0609): the webhook is answered and the polling offset advanced only once the row is
    written, so a bot killed at any moment finishes it after its restart, and a redelivered
    update (same key) is answered once. Rows answered two days ago are purged."""

    id = BigSerial(primary_key=True)
    messenger = Varchar(length=16)  # telegram | max
    # Telegram: the update_id; MAX (whose updates carry no id): the message's mid, the
    # callback's id, or the chat, user and time of a start or a stop.
    update_key = Varchar(length=160)
    payload = JSONB(default={})
    received_at = Timestamptz()
    attempts = Integer(default=0)  # tries that failed for a passing reason (a server down)
    # When a process last took it to answer: another process's sweep leaves it alone for the
    # lease (backend.messaging.bot_inbox.LEASE). Null: let go after a failed try.
    claimed_at = Timestamptz(null=True, default=None)
    answered_at = Timestamptz(null=True, default=None)
    outcome = Varchar(length=16, default="")  # answered | gave_up


INDEXES = [
    Index("device_token_token", "device_token", ("token",), unique=True),
    Index("messenger_chat_chat", "messenger_chat", ("messenger", "chat_id"), unique=True),
    Index(
        "notification_preference_scope",
        "notification_preference",
        ("user_id", "kind", "student_id"),
        unique=True,
    ),
    Index("notification_event_user", "notification", ("event_id", "user_id"), unique=True),
    Index("notification_user_id", "notification", ("user_id", "id")),
    Index(
        "delivery_event_user_channel", "delivery", ("event_id", "user_id", "channel"), unique=True
    ),
    Index("delivery_status", "delivery", ("status", "dead")),
    Index("delivery_school_created", "delivery", ("school_id", "created_at")),
    Index("delivery_provider_id", "delivery", ("channel", "provider_id")),
    Index("delivery_notification", "delivery", ("notification_id",)),
    Index("bot_update_key", "bot_update", ("messenger", "update_key"), unique=True),
    Index("bot_update_waiting", "bot_update", ("messenger", "answered_at", "id")),
]

APP_CONFIG = AppConfig(
    app_name="messaging",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[
        DeviceToken,
        MessengerChat,
        NotificationPreference,
        Notification,
        Delivery,
        BotUpdate,
    ],
    migration_dependencies=[],
    commands=[],
)
