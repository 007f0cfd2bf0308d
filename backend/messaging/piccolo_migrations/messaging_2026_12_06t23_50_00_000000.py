"""telegram_chat becomes messenger_chat: one table of linked chats for Telegram and MAX
(decision 0605). Existing rows are Telegram chats (the column's default)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-06T23:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "messenger chats: telegram_chat renamed, with the messenger"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="messaging", description=DESCRIPTION)

    manager.rename_table(
        old_class_name="TelegramChat",
        old_tablename="telegram_chat",
        new_class_name="MessengerChat",
        new_tablename="messenger_chat",
        schema=None,
    )

    manager.add_column(
        table_class_name="MessengerChat",
        tablename="messenger_chat",
        column_name="messenger",
        db_column_name="messenger",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 16,
            "default": "telegram",
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
