"""API shapes of the accounts context. Unknown fields are refused, not ignored."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from backend.core.bounds import Id
from backend.core.rights import Permission, Role, ScopeKind
from backend.core.schemas import Strict

Str200 = Annotated[str, msgspec.Meta(max_length=200)]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class LoginRequest(Strict):
    identifier: Annotated[
        str, msgspec.Meta(min_length=1, max_length=254, description="Телефон, e-mail или логин")
    ]
    password: Password


class RefreshRequest(Strict):
    refresh_token: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class TokenResponse(msgspec.Struct):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int
    refresh_expires_in: int
    user_id: int


class GrantIn(Strict):
    role: Role
    scope_kind: ScopeKind
    scope_id: Id | None = None
    valid_until: datetime | None = None
    parts: list[Permission] | None = None


class GrantOut(msgspec.Struct):
    id: int
    role: str
    role_name: str
    scope_kind: str
    scope_id: int | None
    valid_until: datetime | None
    parts: list[str] | None


class UserCreate(Strict):
    display_name: Str200
    password: Password
    login: str | None = None
    phone: str | None = None
    email: str | None = None
    grants: list[GrantIn] = []


class UserOut(msgspec.Struct):
    id: int
    display_name: str
    login: str | None
    phone: str | None
    email: str | None


class Profile(msgspec.Struct):
    id: int
    display_name: str
    login: str | None
    phone: str | None
    email: str | None
    locale: str
    last_login_at: datetime | None
    grants: list[GrantOut]


class ActivationCodeRequestItem(Strict):
    display_name: Str200
    grants: Annotated[list[GrantIn], msgspec.Meta(min_length=1, max_length=20)]
    school_id: Id | None = None


class ActivationCodesRequest(Strict):
    items: Annotated[list[ActivationCodeRequestItem], msgspec.Meta(min_length=1, max_length=2000)]


class ActivationCodeOut(msgspec.Struct):
    code: str
    display_name: str
    expires_at: datetime


class ActivateRequest(Strict):
    code: Annotated[str, msgspec.Meta(min_length=4, max_length=40)]
    password: Password
    login: str | None = None
    phone: str | None = None
    email: str | None = None
    display_name: str | None = None


class PasswordResetRequest(Strict):
    identifier: Annotated[str, msgspec.Meta(min_length=1, max_length=254)]


class PasswordResetConfirm(Strict):
    identifier: Annotated[str, msgspec.Meta(min_length=1, max_length=254)]
    code: Annotated[str, msgspec.Meta(min_length=4, max_length=12)]
    new_password: Password


class PasswordChange(Strict):
    old_password: Password
    new_password: Password


class Message(msgspec.Struct):
    message: str


class GrantCreated(msgspec.Struct):
    id: int
