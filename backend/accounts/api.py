"""HTTP endpoints of the accounts context: /api/v1/auth and /api/v1/accounts."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.di import Provide
from litestar.params import Body
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from backend.accounts.deps import AccountsDep, provide_accounts
from backend.accounts.schemas import (
    ActivateRequest,
    ActivationCodeOut,
    ActivationCodesRequest,
    GrantCreated,
    GrantIn,
    LoginRequest,
    Message,
    PasswordChange,
    PasswordResetConfirm,
    PasswordResetRequest,
    Profile,
    RefreshRequest,
    TokenResponse,
    UserCreate,
    UserOut,
)
from backend.accounts.services import TokenPair
from backend.core.bounds import PathId
from backend.core.http import (
    PUBLIC,
    ActorDep,
    PrincipalDep,
    requires,
    signed_in,
)
from backend.core.rights import Grant, Permission
from backend.i18n import t


def _tokens(pair: TokenPair) -> TokenResponse:
    return TokenResponse(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        token_type="Bearer",  # noqa: S106
        expires_in=pair.expires_in,
        refresh_expires_in=pair.refresh_expires_in,
        user_id=pair.user_id,
    )


def _grant(g: GrantIn) -> Grant:
    return Grant(
        role=g.role,
        scope_kind=g.scope_kind,
        scope_id=g.scope_id,
        valid_until=g.valid_until,
        parts=frozenset(g.parts) if g.parts is not None else None,
    )


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["Вход"]
    dependencies = {"accounts": Provide(provide_accounts, sync_to_thread=False)}

    @post(
        "/login", opt=PUBLIC, status_code=HTTP_200_OK, summary="Вход по телефону, e-mail или логину"
    )
    async def login(
        self, accounts: AccountsDep, actor: ActorDep, data: Annotated[LoginRequest, Body()]
    ) -> TokenResponse:
        return _tokens(await accounts.login(actor, data.identifier, data.password))

    @post("/refresh", opt=PUBLIC, status_code=HTTP_200_OK, summary="Обновить токены (ротация)")
    async def refresh(
        self, accounts: AccountsDep, actor: ActorDep, data: Annotated[RefreshRequest, Body()]
    ) -> TokenResponse:
        return _tokens(await accounts.refresh(actor, data.refresh_token))

    @post("/logout", guards=[signed_in], status_code=HTTP_200_OK, summary="Выйти (отзыв сеанса)")
    async def logout(
        self, accounts: AccountsDep, actor: ActorDep, principal: PrincipalDep
    ) -> Message:
        await accounts.logout(actor, principal)
        return Message(t("auth.logged_out"))

    @post(
        "/activate",
        opt=PUBLIC,
        status_code=HTTP_201_CREATED,
        summary="Создать учётную запись по коду активации",
    )
    async def activate(
        self, accounts: AccountsDep, actor: ActorDep, data: Annotated[ActivateRequest, Body()]
    ) -> TokenResponse:
        pair = await accounts.activate(
            actor,
            code=data.code,
            password=data.password,
            login=data.login,
            phone=data.phone,
            email=data.email,
            display_name=data.display_name,
        )
        return _tokens(pair)

    @post(
        "/password-reset",
        opt=PUBLIC,
        status_code=HTTP_200_OK,
        summary="Запросить код сброса пароля",
    )
    async def request_reset(
        self, accounts: AccountsDep, actor: ActorDep, data: Annotated[PasswordResetRequest, Body()]
    ) -> Message:
        await accounts.request_password_reset(actor, data.identifier)
        return Message(t("auth.reset_code_sent"))

    @post(
        "/password-reset/confirm",
        opt=PUBLIC,
        status_code=HTTP_200_OK,
        summary="Задать новый пароль по коду",
    )
    async def confirm_reset(
        self, accounts: AccountsDep, actor: ActorDep, data: Annotated[PasswordResetConfirm, Body()]
    ) -> Message:
        await accounts.reset_password(actor, data.identifier, data.code, data.new_password)
        return Message(t("auth.password_changed"))


class AccountsController(Controller):
    path = "/api/v1/accounts"
    tags = ["Учётные записи"]
    dependencies = {"accounts": Provide(provide_accounts, sync_to_thread=False)}

    @get("/me", guards=[signed_in], summary="Мой профиль и мои роли")
    async def me(self, accounts: AccountsDep, principal: PrincipalDep) -> Profile:
        return msgspec.convert(await accounts.profile(principal), Profile)

    @post("/me/password", guards=[signed_in], status_code=HTTP_200_OK, summary="Сменить пароль")
    async def change_password(
        self,
        accounts: AccountsDep,
        actor: ActorDep,
        principal: PrincipalDep,
        data: Annotated[PasswordChange, Body()],
    ) -> Message:
        await accounts.change_password(actor, principal, data.old_password, data.new_password)
        return Message(t("auth.password_changed"))

    @post(
        "/users",
        guards=[requires(Permission.ACCOUNTS_MANAGE)],
        status_code=HTTP_201_CREATED,
        summary="Создать учётную запись (сотрудник, администратор)",
    )
    async def create_user(
        self, accounts: AccountsDep, actor: ActorDep, data: Annotated[UserCreate, Body()]
    ) -> UserOut:
        user = await accounts.create_user(
            actor,
            password=data.password,
            display_name=data.display_name,
            login=data.login,
            phone=data.phone,
            email=data.email,
            grants=[_grant(g) for g in data.grants],
        )
        return UserOut(user.id, user.display_name, user.login, user.phone, user.email)

    @post(
        "/users/{user_id:int}/grants",
        guards=[requires(Permission.ACCOUNTS_MANAGE)],
        status_code=HTTP_201_CREATED,
        summary="Выдать роль",
    )
    async def add_grant(
        self,
        accounts: AccountsDep,
        actor: ActorDep,
        user_id: PathId,
        data: Annotated[GrantIn, Body()],
    ) -> GrantCreated:
        return GrantCreated(await accounts.add_grant(actor, user_id, _grant(data)))

    @post(
        "/grants/{grant_id:int}/revoke",
        guards=[requires(Permission.ACCOUNTS_MANAGE)],
        status_code=HTTP_204_NO_CONTENT,
        summary="Отозвать роль",
    )
    async def revoke_grant(self, accounts: AccountsDep, actor: ActorDep, grant_id: PathId) -> None:
        await accounts.revoke_grant(actor, grant_id)

    @post(
        "/activation-codes",
        guards=[requires(Permission.ACCOUNTS_MANAGE)],
        status_code=HTTP_201_CREATED,
        summary="Выпустить коды активации для родителей и обучающихся",
    )
    async def issue_codes(
        self,
        accounts: AccountsDep,
        actor: ActorDep,
        data: Annotated[ActivationCodesRequest, Body()],
    ) -> list[ActivationCodeOut]:
        issued = await accounts.issue_activation_codes(
            actor,
            [(i.display_name, [_grant(g) for g in i.grants], i.school_id) for i in data.items],
        )
        return [ActivationCodeOut(c.code, c.display_name, c.expires_at) for c in issued]
