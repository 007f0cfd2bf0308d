"""Tables of the accounts context: users, their grants, refresh tokens and one-time codes."""

from pathlib import Path

from piccolo.columns import (
    JSONB,
    Boolean,
    ForeignKey,
    Integer,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.columns.indexes import IndexMethod
from piccolo.conf.apps import AppConfig
from piccolo.table import Table


class User(Table, tablename="account_user"):
    """A person who can sign in. Names for display; the personal file lives in `schools`."""

    login = Varchar(length=64, unique=True, null=True, default=None)
    phone = Varchar(length=16, unique=True, null=True, default=None)  # E.164
    email = Varchar(length=254, unique=True, null=True, default=None)  # stored lower-case
    password_hash = Varchar(length=255)
    display_name = Varchar(length=200, default="")
    is_active = Boolean(default=True)
    locale = Varchar(length=8, default="ru")
    created_at = Timestamptz()
    last_login_at = Timestamptz(null=True, default=None)
    password_changed_at = Timestamptz(null=True, default=None)


class RoleGrant(Table):
    """A role held at a scope: the whole system, a region, municipality, school, class or child.

    For a delegate (trusted adult), `parts` lists what they may use and `valid_until` ends it.
    """

    user = ForeignKey(User, null=False, index=True, on_delete=OnDelete.restrict)
    role = Varchar(length=32)
    scope_kind = Varchar(length=16)
    scope_id = Integer(null=True, default=None, index=True)
    parts = JSONB(null=True, default=None)
    valid_until = Timestamptz(null=True, default=None)
    granted_by = ForeignKey(User, null=True, default=None, on_delete=OnDelete.restrict)
    created_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)


class RefreshToken(Table):
    """A refresh token (only its hash is kept). Each use rotates it; the family is one sign-in.

    Reusing a rotated token means it was stolen: the whole family is revoked.
    """

    user = ForeignKey(User, null=False, index=True, on_delete=OnDelete.restrict)
    family = Varchar(length=36, index=True)
    token_hash = Varchar(length=64, unique=True)
    issued_at = Timestamptz()
    expires_at = Timestamptz()
    rotated_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)
    ip = Varchar(length=64, default="")
    user_agent = Varchar(length=300, default="")


class ActivationCode(Table):
    """A one-time code a school hands to a parent or pupil to create their account.

    It carries the grants the new account receives (e.g. guardian of student 42).
    """

    code_hash = Varchar(length=64, unique=True)
    grants = JSONB(default=[])
    display_name = Varchar(length=200, default="")
    school_id = Integer(null=True, default=None, index=True)
    created_by = ForeignKey(User, null=True, default=None, on_delete=OnDelete.restrict)
    created_at = Timestamptz()
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)
    used_by = ForeignKey(User, null=True, default=None, on_delete=OnDelete.restrict)


class PasswordResetCode(Table):
    user = ForeignKey(User, null=False, index=True, on_delete=OnDelete.restrict)
    code_hash = Varchar(length=64, index_method=IndexMethod.btree, index=True)
    created_at = Timestamptz()
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)
    attempts = Integer(default=0)


APP_CONFIG = AppConfig(
    app_name="accounts",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[User, RoleGrant, RefreshToken, ActivationCode, PasswordResetCode],
    migration_dependencies=["backend.schools.tables"],
    commands=[],
)
