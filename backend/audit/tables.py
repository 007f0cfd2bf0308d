"""The audit log: append-only; never updated, purged only by the retention job."""

from pathlib import Path

from piccolo.columns import JSONB, BigSerial, Integer, Timestamptz, Varchar
from piccolo.conf.apps import AppConfig
from piccolo.table import Table


class AuditEntry(Table):
    id = BigSerial(primary_key=True)
    at = Timestamptz(index=True)
    actor_user_id = Integer(null=True, default=None, index=True)
    actor_ip = Varchar(length=64, default="")
    request_id = Varchar(length=64, default="")
    # e.g. "auth.login", "auth.login_failed", "read.personal_file", "create", "update", "delete"
    action = Varchar(length=64, index=True)
    object_type = Varchar(length=64, default="")
    object_id = Varchar(length=64, default="")
    # Where the object lives, so auditors of a school/municipality/region can be given a filter,
    # and the student whose data it is, so a guardian can see who looked at their child's file.
    school_id = Integer(null=True, default=None, index=True)
    student_id = Integer(null=True, default=None, index=True)
    details = JSONB(default={})


APP_CONFIG = AppConfig(
    app_name="audit",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[AuditEntry],
    migration_dependencies=[],
    commands=[],
)
