# Over 600 lines: one service for sign-in, tokens, codes and grants (shared throttle, hashing).
"""Use cases of the accounts context: sign-in, tokens, activation, password reset, grants."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from redis.asyncio import Redis

from backend.accounts.identifiers import (
    Identifier,
    normalize_email,
    normalize_login,
    normalize_phone,
    parse_identifier,
)
from backend.accounts.passwords import Passwords
from backend.accounts.tables import (
    ActivationCode,
    PasswordResetCode,
    RefreshToken,
    RoleGrant,
    User,
)
from backend.accounts.throttle import LoginThrottle
from backend.accounts.tokens import (
    AccessTokens,
    RevokedSessions,
    digest,
    new_activation_code,
    new_numeric_code,
    new_refresh_secret,
    normalize_activation_code,
)
from backend.audit.services import AuditAction, record
from backend.core.context import Actor
from backend.core.db import any_of, transaction
from backend.core.errors import (
    Conflict,
    Forbidden,
    InvalidCredentials,
    NotFound,
    ValidationFailed,
)
from backend.core.rights import (
    GRANTABLE_BY,
    ROLE_PERMISSIONS,
    ROLE_SCOPES,
    Grant,
    Permission,
    Principal,
    Role,
    ScopeKind,
    ScopeTarget,
)
from backend.events.kinds import PASSWORD_RESET_CODE
from backend.events.services import emit
from backend.i18n import t
from backend.settings import Settings

log = structlog.get_logger("parta.accounts")

RESET_CODE_MAX_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int
    user_id: int


@dataclass(frozen=True, slots=True)
class IssuedCode:
    code: str
    display_name: str
    grants: list[Grant]
    expires_at: datetime
    id: int = 0  # the ActivationCode row, so a personal file can be linked when it is used


def _now() -> datetime:
    return datetime.now(UTC)


def grant_from_row(row: dict[str, Any]) -> Grant:
    return Grant(
        role=Role(row["role"]),
        scope_kind=ScopeKind(row["scope_kind"]),
        scope_id=row["scope_id"],
        valid_until=row["valid_until"],
        parts=frozenset(Permission(p) for p in row["parts"]) if row["parts"] is not None else None,
    )


def grant_to_json(grant: Grant) -> dict[str, Any]:
    return {
        "role": grant.role.value,
        "scope_kind": grant.scope_kind.value,
        "scope_id": grant.scope_id,
        "valid_until": grant.valid_until.isoformat() if grant.valid_until else None,
        "parts": sorted(p.value for p in grant.parts) if grant.parts is not None else None,
    }


def grant_from_json(data: dict[str, Any]) -> Grant:
    until = data.get("valid_until")
    parts = data.get("parts")
    return Grant(
        role=Role(data["role"]),
        scope_kind=ScopeKind(data["scope_kind"]),
        scope_id=data.get("scope_id"),
        valid_until=datetime.fromisoformat(until) if until else None,
        parts=frozenset(Permission(p) for p in parts) if parts is not None else None,
    )


def check_grant_shape(grant: Grant) -> None:
    """A grant must put its role at a scope kind that role can have."""
    if grant.scope_kind not in ROLE_SCOPES[grant.role]:
        raise ValidationFailed(
            key="grant.wrong_level",
            role=t("role." + grant.role.value),
            level=t("scope_kind." + grant.scope_kind.value),
            allowed=", ".join(
                f"«{t('scope_kind.' + k.value)}»" for k in ScopeKind if k in ROLE_SCOPES[grant.role]
            ),
            details={"role": grant.role.value, "scope_kind": grant.scope_kind.value},
        )
    if (grant.scope_kind is ScopeKind.SYSTEM) != (grant.scope_id is None):
        raise ValidationFailed(key="grant.scope_required")
    if grant.parts is not None and not grant.parts <= ROLE_PERMISSIONS[grant.role]:
        raise ValidationFailed(key="grant.parts_outside_role")


async def live_grants(user_id: int) -> list[Grant]:
    rows = (
        await RoleGrant.select()
        .where((RoleGrant.user == user_id) & RoleGrant.revoked_at.is_null())
        .output(load_json=True)
    )
    now = _now()
    grants = [grant_from_row(r) for r in rows]
    return [g for g in grants if g.is_live(now)]


async def live_grant_ids(
    user_id: int, role: Role, scope_kind: ScopeKind, scope_id: int
) -> list[int]:
    """Ids of the user's live grants of `role` at exactly this scope (for services that keep a
    grant in step with their own data, such as the class teacher of a class)."""
    rows = (
        await RoleGrant.select()
        .where(
            (RoleGrant.user == user_id)
            & (RoleGrant.role == role.value)
            & (RoleGrant.scope_kind == scope_kind.value)
            & (RoleGrant.scope_id == scope_id)
            & RoleGrant.revoked_at.is_null()
        )
        .output(load_json=True)
    )
    now = _now()
    return [r["id"] for r in rows if grant_from_row(r).is_live(now)]


async def users_holding(role: Role, scope_kind: ScopeKind, scope_id: int) -> list[int]:
    """Users with a live grant of `role` at exactly this scope (e.g. a school's security, who
    hear of refused cards)."""
    rows = (
        await RoleGrant.select()
        .where(
            (RoleGrant.role == role.value)
            & (RoleGrant.scope_kind == scope_kind.value)
            & (RoleGrant.scope_id == scope_id)
            & RoleGrant.revoked_at.is_null()
        )
        .output(load_json=True)
    )
    now = _now()
    return sorted({r["user"] for r in rows if grant_from_row(r).is_live(now)})


async def _insert_grant(actor: Actor, user_id: int, grant: Grant) -> int:
    rows = await RoleGrant.insert(
        RoleGrant(
            user=user_id,
            role=grant.role.value,
            scope_kind=grant.scope_kind.value,
            scope_id=grant.scope_id,
            parts=sorted(p.value for p in grant.parts) if grant.parts is not None else None,
            valid_until=grant.valid_until,
            granted_by=actor.user_id,
        )
    ).returning(RoleGrant.id)
    return int(rows[0]["id"])


async def give_grant(actor: Actor, user_id: int, grant: Grant) -> int:
    """Give a grant for a service that checked the giver's right itself (in the caller's
    transaction, audited). Needs no sessions or Redis: the holder's next token carries it."""
    check_grant_shape(grant)
    async with transaction():
        if not await User.exists().where(User.id == user_id):
            raise NotFound()
        grant_id = await _insert_grant(actor, user_id, grant)
        await record(
            actor,
            AuditAction.CREATE,
            object_type="role_grant",
            object_id=grant_id,
            school_id=grant.scope_id if grant.scope_kind is ScopeKind.SCHOOL else None,
            details={"user_id": user_id, **grant_to_json(grant)},
        )
    return grant_id


async def current_principal(user_id: int) -> Principal | None:
    """The person as the database says they are now: their live grants, read at this moment.

    For sign-ins that outlive an access token's check (piccolo_admin's own session): a revoked
    or expired grant, or a disabled account, takes effect on the next request. None for a
    missing or disabled account.
    """
    user = await User.select(User.is_active, User.display_name).where(User.id == user_id).first()
    if user is None or not user["is_active"]:
        return None
    grants = await live_grants(user_id)
    return Principal(user_id=user_id, grants=tuple(grants), display_name=user["display_name"])


# What accounts asks of the contexts above it, given by the composition root (backend.bootstrap):
# accounts knows users and grants, not where a class or school sits in the tenancy tree, nor
# whose record an activation code was issued for.
ScopePlacer = Callable[[ScopeKind, int | None], Awaitable[ScopeTarget]]
CodeActivated = Callable[[int, int, list[int]], Awaitable[None]]  # (code id, user id, grant ids)


async def check_can_give(
    principal: Principal,
    grant: Grant,
    place: ScopePlacer,
    *,
    to_user_id: int | None = None,
) -> None:
    """May `principal` give (or take back) `grant`, to `to_user_id` if that is known?

    The giver must manage accounts at a scope covering the grant's scope, through a role that
    may give the grant's role (`GRANTABLE_BY`: a secretary makes teachers and parents, not
    school administrators). Nobody gives anything to themselves, except a system administrator.
    """
    if principal.is_system(Permission.ACCOUNTS_MANAGE):
        return
    if to_user_id is not None and to_user_id == principal.user_id:
        raise Forbidden(key="auth.no_self_grant")
    if grant.scope_kind in (ScopeKind.SYSTEM, ScopeKind.REGION, ScopeKind.MUNICIPALITY):
        raise Forbidden()
    target = await place(grant.scope_kind, grant.scope_id)
    for held in principal.live_grants():
        if (
            Permission.ACCOUNTS_MANAGE in held.permissions()
            and held.covers(target)
            and grant.role in GRANTABLE_BY.get(held.role, frozenset())
        ):
            return
    raise Forbidden(key="auth.role_above_yours", role=t(f"role.{grant.role.value}"))


class AccountsService:
    """Holds what sign-in needs (settings, Redis, hashing, token issuing) for all use cases."""

    def __init__(
        self,
        settings: Settings,
        redis: Redis,
        passwords: Passwords,
        tokens: AccessTokens,
        revoked: RevokedSessions | None = None,
        *,
        place_scope: ScopePlacer,
        code_activated: CodeActivated,
    ) -> None:
        """`place_scope`: where a grant's scope sits in the tenancy tree (to check that a giver
        covers it); `code_activated`: tells the record an activation code was issued for (a
        pupil, guardian or delegate) its new account, inside the activation's transaction."""
        self.settings = settings
        self.place_scope = place_scope
        self.code_activated = code_activated
        self.redis = redis
        self.passwords = passwords
        self.tokens = tokens
        self.revoked = revoked or RevokedSessions(redis)
        self.throttle = LoginThrottle(redis, settings)

    # ---- sign-in -------------------------------------------------------------------------

    async def login(self, actor: Actor, identifier: str, password: str) -> TokenPair:
        try:
            ident = parse_identifier(identifier)
        except ValidationFailed:
            ident = Identifier("login", identifier.strip().lower()[:64])
        throttle_key = f"{ident.kind}:{ident.value}"
        await self.throttle.check(throttle_key, actor.ip or "unknown")

        user = await User.objects().where(_identifier_clause(ident)).first()
        if user is not None:
            ok = await self.passwords.verify(user.password_hash, password)
        else:
            ok = False
            await self.passwords.burn(password)
        if user is None or not ok:
            await self.throttle.failed(throttle_key, actor.ip or "unknown")
            async with transaction():
                await record(
                    actor,
                    AuditAction.LOGIN_FAILED,
                    object_type="user",
                    object_id=user.id if user else "",
                    user_id=user.id if user else None,
                    details={"identifier_kind": ident.kind, "identifier": _mask(ident)},
                )
            raise InvalidCredentials()
        if not user.is_active:
            raise Forbidden(key="auth.account_disabled")
        await self.throttle.succeeded(throttle_key)
        async with transaction():
            await User.update({User.last_login_at: _now()}).where(User.id == user.id)
            pair = await self._open_session(actor, user)
            await record(
                actor,
                AuditAction.LOGIN,
                object_type="user",
                object_id=user.id,
                user_id=user.id,
                details={"identifier_kind": ident.kind},
            )
        return pair

    async def _open_session(self, actor: Actor, user: User, family: str | None = None) -> TokenPair:
        grants = await live_grants(user.id)
        family = family or str(uuid.uuid4())
        refresh_secret = new_refresh_secret()
        refresh_lifetime = timedelta(days=self.settings.refresh_token_days)
        await RefreshToken.insert(
            RefreshToken(
                user=user.id,
                family=family,
                token_hash=digest(refresh_secret),
                expires_at=_now() + refresh_lifetime,
                ip=actor.ip[:64],
                user_agent=actor.user_agent[:300],
            )
        )
        access = self.tokens.issue(user.id, grants, family, user.display_name)
        return TokenPair(
            access_token=access,
            refresh_token=refresh_secret,
            expires_in=int(self.tokens.lifetime.total_seconds()),
            refresh_expires_in=int(refresh_lifetime.total_seconds()),
            user_id=user.id,
        )

    async def refresh(self, actor: Actor, refresh_token: str) -> TokenPair:
        """Rotate: the old refresh token is spent; reusing a spent one revokes the session."""
        token_hash = digest(refresh_token)
        row = await RefreshToken.objects().where(RefreshToken.token_hash == token_hash).first()
        if row is None or row.revoked_at is not None:
            raise InvalidCredentials(key="auth.refresh_invalid")
        if row.rotated_at is not None:
            # A spent token came back: someone holds a copy. End the whole session, and commit
            # that before answering (raising inside the transaction would roll it back).
            async with transaction():
                await self._revoke_family(row.family)
                await record(
                    actor,
                    AuditAction.REFRESH_REUSE,
                    object_type="session",
                    object_id=row.family,
                    user_id=row.user,
                )
            raise InvalidCredentials(key="auth.refresh_invalid")
        async with transaction():
            if row.expires_at <= _now():
                raise InvalidCredentials(key="auth.refresh_invalid")
            # The conditional update makes two concurrent refreshes with one token succeed once.
            spent = (
                await RefreshToken.update({RefreshToken.rotated_at: _now()})
                .where((RefreshToken.id == row.id) & RefreshToken.rotated_at.is_null())
                .returning(RefreshToken.id)
            )
            if not spent:
                raise InvalidCredentials(key="auth.refresh_invalid")
            user = await User.objects().where(User.id == row.user).first()
            if user is None or not user.is_active:
                raise InvalidCredentials(key="auth.refresh_invalid")
            return await self._open_session(actor, user, family=row.family)

    async def _revoke_family(self, family: str) -> None:
        await RefreshToken.update({RefreshToken.revoked_at: _now()}).where(
            (RefreshToken.family == family) & RefreshToken.revoked_at.is_null()
        )
        # Access tokens of this session stay valid until they expire unless we say otherwise.
        await self.revoked.revoke(family, int(self.tokens.lifetime.total_seconds()) + 60)

    async def logout(self, actor: Actor, principal: Principal) -> None:
        async with transaction():
            await self._revoke_family(principal.session_id)
            await record(
                actor, AuditAction.LOGOUT, object_type="session", object_id=principal.session_id
            )

    # ---- accounts ------------------------------------------------------------------------

    async def _check_identifiers_free(
        self, phone: str | None, email: str | None, login: str | None, exclude_id: int | None = None
    ) -> None:
        for kind, column, value in (
            ("phone", User.phone, phone),
            ("email", User.email, email),
            ("login", User.login, login),
        ):
            if value is None:
                continue
            query = User.exists().where(column == value)
            if exclude_id is not None:
                query = query.where(User.id != exclude_id)
            if await query:
                raise Conflict(key="auth.identifier_taken", what=t(f"auth.what.{kind}"))

    async def _insert_user(
        self,
        login: str | None,
        phone: str | None,
        email: str | None,
        password_hash: str,
        display_name: str,
    ) -> User:
        """Inside the caller's transaction: refuse taken identifiers, then store the account."""
        await self._check_identifiers_free(phone, email, login)
        user = User(
            login=login,
            phone=phone,
            email=email,
            password_hash=password_hash,
            display_name=display_name.strip()[:200],
            password_changed_at=_now(),
        )
        await user.save()
        return user

    async def create_user(
        self,
        actor: Actor,
        *,
        password: str,
        display_name: str,
        login: str | None = None,
        phone: str | None = None,
        email: str | None = None,
        grants: Sequence[Grant] = (),
        check_rights: bool = True,
    ) -> User:
        login, phone, email = _normalized_identifiers(login, phone, email)
        self.passwords.check_strength(password)
        for grant in grants:
            check_grant_shape(grant)
            if check_rights:
                if actor.principal is None:
                    raise Forbidden()
                await check_can_give(actor.principal, grant, self.place_scope)
        password_hash = await self.passwords.hash(password)
        async with transaction():
            user = await self._insert_user(login, phone, email, password_hash, display_name)
            for grant in grants:
                await _insert_grant(actor, user.id, grant)
            await record(
                actor,
                AuditAction.CREATE,
                object_type="user",
                object_id=user.id,
                details={"grants": [grant_to_json(g) for g in grants]},
            )
        return user

    async def add_grant(
        self, actor: Actor, user_id: int, grant: Grant, *, check_rights: bool = True
    ) -> int:
        """Give a grant. `check_rights=False` is for services that checked the giver themselves
        (a legal representative naming a delegate holds no accounts right)."""
        check_grant_shape(grant)
        if check_rights:
            if actor.principal is None:
                raise Forbidden()
            await check_can_give(actor.principal, grant, self.place_scope, to_user_id=user_id)
        return await give_grant(actor, user_id, grant)

    async def revoke_grant(self, actor: Actor, grant_id: int) -> None:
        row = (
            await RoleGrant.select().where(RoleGrant.id == grant_id).output(load_json=True).first()
        )
        if row is None or row["revoked_at"] is not None:
            raise NotFound()
        grant = grant_from_row(row)
        if actor.principal is None:
            raise Forbidden()
        try:
            await check_can_give(actor.principal, grant, self.place_scope, to_user_id=row["user"])
        except Forbidden:
            raise NotFound() from None
        async with transaction():
            await RoleGrant.update({RoleGrant.revoked_at: _now()}).where(RoleGrant.id == grant_id)
            await record(
                actor,
                AuditAction.DELETE,
                object_type="role_grant",
                object_id=grant_id,
                details={"user_id": row["user"], **grant_to_json(grant)},
            )
            await self._grants_taken_away(row["user"])

    async def revoke_grants(self, actor: Actor, grant_ids: Sequence[int]) -> int:
        """Revoke grants for a service that checked the right to do so itself (a legal
        representative ending a delegation); access tokens still carrying the grants stop
        working now, in every process. Returns how many were live."""
        if not grant_ids:
            return 0
        async with transaction():
            rows = (
                await RoleGrant.update({RoleGrant.revoked_at: _now()})
                .where(RoleGrant.id.is_in(list(grant_ids)) & RoleGrant.revoked_at.is_null())
                .returning(RoleGrant.id, RoleGrant.user)
            )
            for row in rows:
                await record(
                    actor,
                    AuditAction.DELETE,
                    object_type="role_grant",
                    object_id=row["id"],
                    details={"user_id": row["user"]},
                )
            for user_id in {row["user"] for row in rows}:
                await self._grants_taken_away(user_id)
        return len(rows)

    async def set_active(self, actor: Actor, user_id: int, active: bool) -> None:
        """Block an account (it signs in no more; its tokens stop at the next request, its
        refresh is refused) or unblock it. Allowed to whoever may take back every live grant
        the account holds (`check_can_give`): a secretary blocks a teacher of her school, not
        the director; an account with no grant is the system administrator's. Not oneself."""
        if actor.principal is None:
            raise Forbidden()
        if user_id == actor.principal.user_id:
            raise Forbidden(key="auth.no_self_grant")
        user = await User.select(User.id, User.is_active).where(User.id == user_id).first()
        if user is None:
            raise NotFound()
        grants = await live_grants(user_id)
        if not grants and not actor.principal.is_system(Permission.ACCOUNTS_MANAGE):
            raise NotFound()
        try:
            for grant in grants:
                await check_can_give(actor.principal, grant, self.place_scope, to_user_id=user_id)
        except Forbidden:
            raise NotFound() from None  # as `revoke_grant`: nothing told about others' accounts
        if user["is_active"] == active:
            return
        async with transaction():
            await User.update({User.is_active: active}).where(User.id == user_id)
            await record(
                actor,
                AuditAction.UPDATE,
                object_type="user",
                object_id=user_id,
                details={"is_active": active},
            )
        if not active:
            await self._grants_taken_away(user_id)

    async def _grants_taken_away(self, user_id: int) -> None:
        """Every API process refuses this person's access tokens issued until now (they carry
        the grant); the person stays signed in, and the next refresh reads the grants left."""
        await self.revoked.grants_changed(user_id, int(self.tokens.lifetime.total_seconds()) + 60)

    async def user_id_by_phone(self, phone: str) -> int | None:
        """The active account with this phone (E.164), for naming an existing person."""
        row = (
            await User.select(User.id)
            .where((User.phone == normalize_phone(phone)) & (User.is_active == True))  # noqa: E712
            .first()
        )
        return int(row["id"]) if row else None

    async def withdraw_activation_code(self, actor: Actor, code_id: int) -> None:
        """Make an unused code unusable (an invitation taken back before it was used)."""
        async with transaction():
            await ActivationCode.update({ActivationCode.expires_at: _now()}).where(
                (ActivationCode.id == code_id) & ActivationCode.used_at.is_null()
            )
            await record(
                actor, AuditAction.DELETE, object_type="activation_code", object_id=code_id
            )

    async def profile(self, principal: Principal) -> dict[str, Any]:
        user = (
            await User.select(
                User.id,
                User.login,
                User.phone,
                User.email,
                User.display_name,
                User.locale,
                User.last_login_at,
            )
            .where(User.id == principal.user_id)
            .first()
        )
        if user is None:
            raise NotFound()
        grants = (
            await RoleGrant.select(
                RoleGrant.id,
                RoleGrant.role,
                RoleGrant.scope_kind,
                RoleGrant.scope_id,
                RoleGrant.valid_until,
                RoleGrant.parts,
            )
            .where((RoleGrant.user == principal.user_id) & RoleGrant.revoked_at.is_null())
            .output(load_json=True)
        )
        now = _now()
        user["grants"] = [
            {**g, "role_name": t(f"role.{g['role']}")}
            for g in grants
            if g["valid_until"] is None or g["valid_until"] > now
        ]
        return user

    async def change_password(self, actor: Actor, principal: Principal, old: str, new: str) -> None:
        user = await User.objects().where(User.id == principal.user_id).first()
        if user is None or not await self.passwords.verify(user.password_hash, old):
            raise ValidationFailed(key="auth.old_password_wrong")
        self.passwords.check_strength(new)
        new_hash = await self.passwords.hash(new)
        async with transaction():
            await User.update(
                {User.password_hash: new_hash, User.password_changed_at: _now()}
            ).where(User.id == user.id)
            await self._revoke_other_sessions(user.id, keep=principal.session_id)
            await record(actor, AuditAction.PASSWORD_CHANGE, object_type="user", object_id=user.id)

    async def _revoke_other_sessions(self, user_id: int, keep: str | None = None) -> None:
        families = (
            await RefreshToken.select(RefreshToken.family)
            .where((RefreshToken.user == user_id) & RefreshToken.revoked_at.is_null())
            .distinct()
        )
        for row in families:
            if row["family"] != keep:
                await self._revoke_family(row["family"])

    # ---- activation codes ----------------------------------------------------------------

    async def issue_activation_codes(
        self,
        actor: Actor,
        items: Sequence[tuple[str, Sequence[Grant], int | None]],
        *,
        check_rights: bool = True,
    ) -> list[IssuedCode]:
        """One code per (display name, grants, school): the secret is shown once, then only its
        hash is kept. `check_rights=False` is for services that checked the giver themselves."""
        if check_rights and actor.principal is None:
            raise Forbidden()
        for _, grants, _ in items:
            if not grants:
                raise ValidationFailed("Код активации должен давать хотя бы одну роль.")
            for grant in grants:
                check_grant_shape(grant)
                if check_rights and actor.principal is not None:
                    await check_can_give(actor.principal, grant, self.place_scope)
        expires = _now() + timedelta(days=self.settings.activation_code_days)
        issued: list[IssuedCode] = []
        async with transaction():
            for name, grants, school_id in items:
                code = new_activation_code()
                rows = await ActivationCode.insert(
                    ActivationCode(
                        code_hash=digest(normalize_activation_code(code)),
                        grants=[grant_to_json(g) for g in grants],
                        display_name=name,
                        school_id=school_id,
                        created_by=actor.user_id,
                        expires_at=expires,
                    )
                ).returning(ActivationCode.id)
                await record(
                    actor,
                    AuditAction.CREATE,
                    object_type="activation_code",
                    object_id=rows[0]["id"],
                    school_id=school_id,
                    details={"display_name": name, "grants": [grant_to_json(g) for g in grants]},
                )
                issued.append(IssuedCode(code, name, list(grants), expires, rows[0]["id"]))
        return issued

    async def activate(
        self,
        actor: Actor,
        *,
        code: str,
        password: str,
        login: str | None,
        phone: str | None,
        email: str | None,
        display_name: str | None,
    ) -> TokenPair:
        login, phone, email = _normalized_identifiers(login, phone, email)
        self.passwords.check_strength(password)
        code_hash = digest(normalize_activation_code(code))
        # Counted per person (the phone, e-mail or login being registered), then per address
        # with a high ceiling: a school's parents behind one NAT address do not lock each other
        # out, and a 60-bit code cannot be guessed within the ceiling.
        throttle_key = f"activation:{phone or email or login or code_hash}"
        await self.throttle.check(throttle_key, actor.ip or "unknown", what="activation")
        row = (
            await ActivationCode.objects()
            .where(ActivationCode.code_hash == code_hash)
            .output(load_json=True)
            .first()
        )
        if row is None or row.used_at is not None:
            await self.throttle.failed(throttle_key, actor.ip or "unknown")
            raise ValidationFailed(key="auth.activation_invalid")
        if row.expires_at <= _now():
            raise ValidationFailed(key="auth.activation_expired")
        password_hash = await self.passwords.hash(password)
        async with transaction():
            user = await self._insert_user(
                login, phone, email, password_hash, display_name or row.display_name
            )
            claimed = (
                await ActivationCode.update(
                    {ActivationCode.used_at: _now(), ActivationCode.used_by: user.id}
                )
                .where((ActivationCode.id == row.id) & ActivationCode.used_at.is_null())
                .returning(ActivationCode.id)
            )
            if not claimed:
                raise ValidationFailed(key="auth.activation_invalid")
            code_actor = Actor(None, actor.ip, actor.request_id, actor.user_agent)
            grant_ids = [
                await _insert_grant(code_actor, user.id, grant_from_json(data))
                for data in row.grants
            ]
            # The pupil's, guardian's or delegate's record the code was issued for learns its
            # account in the same transaction.
            await self.code_activated(row.id, user.id, grant_ids)
            await record(
                actor,
                AuditAction.ACTIVATE,
                object_type="user",
                object_id=user.id,
                user_id=user.id,
                school_id=row.school_id,
                details={"activation_code_id": row.id},
            )
            return await self._open_session(actor, user)

    # ---- password reset ------------------------------------------------------------------

    async def request_password_reset(self, actor: Actor, identifier: str) -> None:
        """Send a one-time code to the account's phone or e-mail. Says the same whether or not
        the account exists."""
        ident = parse_identifier(identifier)
        await self.throttle.check(
            f"reset:{ident.kind}:{ident.value}", actor.ip or "unknown", what="reset"
        )
        await self.throttle.failed(f"reset:{ident.kind}:{ident.value}", actor.ip or "unknown")
        user = await User.objects().where(_identifier_clause(ident)).first()
        if user is None or not user.is_active:
            return
        code = new_numeric_code()
        async with transaction():
            await PasswordResetCode.update({PasswordResetCode.used_at: _now()}).where(
                (PasswordResetCode.user == user.id) & PasswordResetCode.used_at.is_null()
            )
            await PasswordResetCode.insert(
                PasswordResetCode(
                    user=user.id,
                    code_hash=digest(f"{user.id}:{code}"),
                    expires_at=_now() + timedelta(minutes=self.settings.reset_code_minutes),
                )
            )
            # The notifications worker delivers it (SMS or e-mail, urgent) and blanks the code.
            await emit(
                PASSWORD_RESET_CODE,
                {
                    "user_id": user.id,
                    "code": code,
                    "channel": "sms" if user.phone else "email",
                    "text": t("auth.reset_code_message", code=code),
                },
            )
            await record(
                actor,
                AuditAction.PASSWORD_RESET_REQUEST,
                object_type="user",
                object_id=user.id,
                user_id=user.id,
            )
        if self.settings.environment in ("demo", "development"):
            log.warning("password_reset_code", user_id=user.id, code=code, note="demo mode only")

    async def reset_password(
        self, actor: Actor, identifier: str, code: str, new_password: str
    ) -> None:
        ident = parse_identifier(identifier)
        self.passwords.check_strength(new_password)
        user = await User.objects().where(_identifier_clause(ident)).first()
        if user is None:
            raise ValidationFailed(key="auth.reset_code_invalid")
        row = (
            await PasswordResetCode.objects()
            .where(
                (PasswordResetCode.user == user.id)
                & PasswordResetCode.used_at.is_null()
                & (PasswordResetCode.expires_at > _now())
            )
            .order_by(PasswordResetCode.id, ascending=False)
            .first()
        )
        if row is None or row.attempts >= RESET_CODE_MAX_ATTEMPTS:
            raise ValidationFailed(key="auth.reset_code_invalid")
        if row.code_hash != digest(f"{user.id}:{code.strip()}"):
            await PasswordResetCode.update(
                {PasswordResetCode.attempts: PasswordResetCode.attempts + 1}
            ).where(PasswordResetCode.id == row.id)
            raise ValidationFailed(key="auth.reset_code_invalid")
        new_hash = await self.passwords.hash(new_password)
        async with transaction():
            used = (
                await PasswordResetCode.update({PasswordResetCode.used_at: _now()})
                .where((PasswordResetCode.id == row.id) & PasswordResetCode.used_at.is_null())
                .returning(PasswordResetCode.id)
            )
            if not used:
                raise ValidationFailed(key="auth.reset_code_invalid")
            await User.update(
                {User.password_hash: new_hash, User.password_changed_at: _now()}
            ).where(User.id == user.id)
            await self._revoke_other_sessions(user.id)
            await record(
                actor,
                AuditAction.PASSWORD_RESET,
                object_type="user",
                object_id=user.id,
                user_id=user.id,
            )

    # ---- lookups for other contexts ------------------------------------------------------

    @staticmethod
    async def display_names(user_ids: set[int]) -> dict[int, str]:
        if not user_ids:
            return {}
        rows = await User.select(User.id, User.display_name).where(User.id.is_in(list(user_ids)))
        return {r["id"]: r["display_name"] for r in rows}


async def accounts_in_scopes(scopes: Sequence[tuple[ScopeKind, int]]) -> list[dict[str, Any]]:
    """The accounts holding a live grant at any of these scopes (a school's staff: the school
    and its classes), each with those grants: for the office's list of accounts. Two reads."""
    if not scopes:
        return []
    parts = [
        (RoleGrant.scope_kind == kind.value) & RoleGrant.scope_id.is_in(sorted(ids))
        for kind, ids in _group(scopes).items()
    ]
    clause: Any = parts[0]
    for part in parts[1:]:
        clause = clause | part
    rows = (
        await RoleGrant.select()
        .where(RoleGrant.revoked_at.is_null())
        .where(clause)
        .output(load_json=True)
    )
    now = _now()
    held: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        grant = grant_from_row(row)
        if grant.is_live(now):
            held.setdefault(row["user"], []).append({"id": row["id"], "grant": grant})
    if not held:
        return []
    users = await User.select(User.id, User.login, User.display_name, User.is_active).where(
        User.id.is_in(sorted(held))
    )
    out = [{**u, "grants": sorted(held[u["id"]], key=lambda g: g["id"])} for u in users]
    return sorted(out, key=lambda u: (u["display_name"].lower(), u["id"]))


def _group(scopes: Sequence[tuple[ScopeKind, int]]) -> dict[ScopeKind, set[int]]:
    out: dict[ScopeKind, set[int]] = {}
    for kind, scope_id in scopes:
        out.setdefault(kind, set()).add(scope_id)
    return out


def _normalized_identifiers(
    login: str | None, phone: str | None, email: str | None
) -> tuple[str | None, str | None, str | None]:
    """Normalise what was given (E.164 phone, lower-case e-mail and login); one is required."""
    login = normalize_login(login) if login else None
    phone = normalize_phone(phone) if phone else None
    email = normalize_email(email) if email else None
    if not (login or phone or email):
        raise ValidationFailed(key="auth.identifier_required")
    return login, phone, email


def _identifier_clause(ident: Identifier) -> Any:
    column = {"phone": User.phone, "email": User.email, "login": User.login}[ident.kind]
    return column == ident.value


def _mask(ident: Identifier) -> str:
    """Enough of a failed identifier to investigate, not enough to harvest."""
    value = ident.value
    if ident.kind == "email":
        name, _, domain = value.partition("@")
        return f"{name[:2]}***@{domain}"
    return value[:4] + "***" + value[-2:] if len(value) > 6 else value[:2] + "***"


async def user_contacts(user_ids: set[int]) -> dict[int, dict[str, Any]]:
    """Phone, e-mail, name and locale of accounts, for the notifications worker."""
    if not user_ids:
        return {}
    rows = await User.select(
        User.id, User.phone, User.email, User.display_name, User.locale, User.is_active
    ).where(any_of(User.id, user_ids))
    return {r["id"]: r for r in rows}
