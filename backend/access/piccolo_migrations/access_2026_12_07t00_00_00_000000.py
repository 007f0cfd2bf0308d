"""The school's choice to let the day's first entry mark presence in the journal."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Boolean
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-07T00:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "access_settings.journal_presence"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="access", description=DESCRIPTION)
    manager.add_column(
        table_class_name="AccessSettings",
        tablename="access_settings",
        column_name="journal_presence",
        db_column_name="journal_presence",
        column_class_name="Boolean",
        column_class=Boolean,
        params={
            "default": False,
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
