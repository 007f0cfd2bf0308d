"""The outbox: a domain event is written here in the same transaction as the change it reports.

The notifications worker relays unpublished rows to the queue and marks them published.
"""

from pathlib import Path

from piccolo.columns import JSONB, BigSerial, Integer, Timestamptz, Varchar
from piccolo.conf.apps import AppConfig
from piccolo.table import Table


class OutboxEvent(Table):
    id = BigSerial(primary_key=True)
    kind = Varchar(length=64, index=True)  # e.g. "mark.created", "attendance.absent"
    payload = JSONB(default={})
    school_id = Integer(null=True, default=None)
    student_id = Integer(null=True, default=None)
    occurred_at = Timestamptz()
    published_at = Timestamptz(null=True, default=None, index=True)


APP_CONFIG = AppConfig(
    app_name="events",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[OutboxEvent],
    migration_dependencies=[],
    commands=[],
)
