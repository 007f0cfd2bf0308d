"""A gateway's window of clock-skew samples (decision 0908)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Text
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-07T06:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "access_gateway.skew_window"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="access", description=DESCRIPTION)
    manager.add_column(
        table_class_name="AccessGateway",
        tablename="access_gateway",
        column_name="skew_window",
        db_column_name="skew_window",
        column_class_name="Text",
        column_class=Text,
        params={
            "default": "[]",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )
    return manager
