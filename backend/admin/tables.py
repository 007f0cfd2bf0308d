"""Tables piccolo_admin needs for its own sign-in: its users and sessions.

Nobody signs in to piccolo_admin with a password: a person with `structure.manage` signed in
to Parta opens it from /admin/tasks, which keeps a mirror user `parta-<user id>` (unusable
random password) and opens a session for them; what the session shows is decided per request
from the person's grants (see backend/admin/piccolo.py and docs/decisions/0101-web-admin.md).
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
