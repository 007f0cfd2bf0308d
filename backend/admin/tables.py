"""Tables piccolo_admin needs for its own sign-in: its users and sessions.

Nobody signs in to piccolo_admin with a password: a system administrator signed in to Parta
opens it from /admin/tasks, which keeps a mirror user (unusable random password) and opens a
session for them (see backend/admin/piccolo.py and docs/decisions/0101-web-admin.md).
"""

from pathlib import Path

from piccolo.apps.user.tables import BaseUser
from piccolo.conf.apps import AppConfig
from piccolo_api.session_auth.tables import SessionsBase

INDEXES: list[object] = []

APP_CONFIG = AppConfig(
    app_name="admin",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[BaseUser, SessionsBase],
    migration_dependencies=[],
    commands=[],
)
