"""People of a school as other contexts see them: where a class or pupil sits in the tenancy tree,
a pupil's class on a date, a pupil's guardians and delegates, activation codes for a class.

This is the module other contexts call (the journal, notifications, the web admin). The book of
movement itself is `backend.schools.people.movement`; personal files `.personal_files`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Literal

from backend.audit.services import record
from backend.core.context import Actor
from backend.core.db import any_of, transaction
from backend.core.errors import NotFound, ValidationFailed
from backend.core.rights import Grant, Permission, Role, ScopeKind, ScopeTarget
from backend.schools.people.delegates import canonical_parts
from backend.schools.people.movement import (
    PupilRef,
    class_label,
    class_on,
    class_target,
    classes_on,
    pupils_of_classes,
    student_target,
    students_of_class,
    today,
)
from backend.schools.tables import (
    Delegate,
    Guardian,
    SchoolClass,
    Student,
    StudentGuardian,
)

if TYPE_CHECKING:
    from backend.accounts.services import AccountsService

__all__ = [
    "GuardianOf",
    "PupilRef",
    "account_activated",
    "class_on",
    "class_target",
    "classes_on",
    "delegates_of",
    "delegates_of_many",
    "guardians_of",
    "issue_codes_for_class",
    "pupils_of_classes",
    "scope_target",
    "student_target",
    "students_of_class",
]


# ---- where things sit ----------------------------------------------------------------------


async def scope_target(kind: ScopeKind, scope_id: int) -> ScopeTarget:
    if kind is ScopeKind.CLASS:
        return await class_target(scope_id)
    if kind is ScopeKind.STUDENT:
        return await student_target(scope_id)
    raise NotFound()


# ---- guardians and delegates ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GuardianOf:
    """A guardian of one pupil, as notifications and the apps need them."""

    guardian_id: int
    user_id: int | None
    last_name: str
    first_name: str
    middle_name: str
    relation: str
    is_legal_representative: bool
    phone: str | None
    email: str | None

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.last_name, self.first_name, self.middle_name) if p)


async def guardians_of(student_id: int) -> list[GuardianOf]:
    """The pupil's guardians, legal representatives first, with their account ids (None until
    they have activated their code)."""
    rows = (
        await StudentGuardian.select(
            StudentGuardian.guardian,
            StudentGuardian.relation,
            StudentGuardian.is_legal_representative,
            StudentGuardian.guardian.user_id,
            StudentGuardian.guardian.last_name,
            StudentGuardian.guardian.first_name,
            StudentGuardian.guardian.middle_name,
            StudentGuardian.guardian.phone,
            StudentGuardian.guardian.email,
        )
        .where(StudentGuardian.student == student_id)
        .order_by(StudentGuardian.id)
    )
    result = [
        GuardianOf(
            guardian_id=r["guardian"],
            user_id=r["guardian.user_id"],
            last_name=r["guardian.last_name"],
            first_name=r["guardian.first_name"],
            middle_name=r["guardian.middle_name"],
            relation=r["relation"],
            is_legal_representative=r["is_legal_representative"],
            phone=r["guardian.phone"],
            email=r["guardian.email"],
        )
        for r in rows
    ]
    return sorted(result, key=lambda g: not g.is_legal_representative)


@dataclass(frozen=True, slots=True)
class DelegateOf:
    delegate_id: int
    user_id: int | None
    full_name: str
    parts: list[str]
    valid_until: datetime


async def delegates_of(student_id: int, at: datetime | None = None) -> list[DelegateOf]:
    """Trusted adults whose delegation for this pupil is in force now (not revoked, not over)."""
    return (await delegates_of_many([student_id], at))[student_id]


async def delegates_of_many(
    student_ids: Iterable[int], at: datetime | None = None
) -> dict[int, list[DelegateOf]]:
    """`delegates_of` for many pupils in one query."""
    wanted = list(set(student_ids))
    out: dict[int, list[DelegateOf]] = {sid: [] for sid in wanted}
    if not wanted:
        return out
    now = at or datetime.now(UTC)
    rows = (
        await Delegate.select()
        .where(
            any_of(Delegate.student, wanted)
            & Delegate.revoked_at.is_null()
            & (Delegate.valid_from <= now)
            & (Delegate.valid_until > now)
        )
        .order_by(Delegate.id)
        .output(load_json=True)
    )
    for r in rows:
        out[r["student"]].append(
            DelegateOf(
                r["id"],
                r["delegate_user_id"],
                r["full_name"],
                canonical_parts(r["parts"]),
                r["valid_until"],
            )
        )
    return out


async def account_activated(code_id: int, user_id: int, grant_ids: list[int]) -> None:
    """Called by accounts inside the activation transaction: the pupil, guardian or delegate the
    code was issued for now has this account (a delegate also learns its grant, to revoke it)."""
    await Student.update({Student.user_id: user_id}).where(
        (Student.activation_code_id == code_id) & Student.user_id.is_null()
    )
    await Guardian.update({Guardian.user_id: user_id}).where(
        (Guardian.activation_code_id == code_id) & Guardian.user_id.is_null()
    )
    await Delegate.update(
        {
            Delegate.delegate_user_id: user_id,
            Delegate.role_grant_id: grant_ids[0] if len(grant_ids) == 1 else None,
        }
    ).where((Delegate.activation_code_id == code_id) & Delegate.delegate_user_id.is_null())


async def family_cards(student_ids: set[int]) -> dict[int, dict[str, Any]]:
    """Names, today's class and the school's time zone of the children a family member acts
    for (their grants say which; no further check is needed to show a child's own name to
    them)."""
    if not student_ids:
        return {}
    rows = await Student.select(
        Student.id,
        Student.last_name,
        Student.first_name,
        Student.school.time_zone.as_alias("time_zone"),
    ).where(Student.id.is_in(list(student_ids)))
    classes = await classes_on(student_ids, today())
    labels = {}
    class_ids = {c for c in classes.values() if c is not None}
    if class_ids:
        for r in await SchoolClass.select(
            SchoolClass.id, SchoolClass.grade, SchoolClass.letter
        ).where(SchoolClass.id.is_in(list(class_ids))):
            labels[r["id"]] = class_label(r["grade"], r["letter"])
    return {r["id"]: {**r, "class_name": labels.get(classes.get(r["id"]) or 0)} for r in rows}


# ---- activation codes for a class ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PrintedCode:
    """One line of the printable list handed out at a parents' meeting."""

    full_name: str
    code: str
    kind: Literal["guardian", "pupil"]
    pupils: list[str]  # the children this code gives access to
    expires_at: datetime


def _name(last: str, first: str, middle: str = "") -> str:
    return " ".join(p for p in (last, first, middle) if p)


@dataclass(frozen=True, slots=True)
class SkippedCode:
    """Someone of the class who got no new code, and why (an account, or an unused code)."""

    full_name: str
    kind: Literal["guardian", "pupil"]
    pupils: list[str]
    reason: Literal["has_account", "has_code"]


@dataclass(frozen=True, slots=True)
class ClassCodes:
    printed: list[PrintedCode]
    skipped: list[SkippedCode]
    withdrawn: int = 0  # old unused codes made unusable by a reissue


async def issue_codes_for_class(
    actor: Actor,
    class_id: int,
    who: Literal["guardians", "pupils", "both"] = "guardians",
    *,
    accounts: AccountsService,
    on: date | None = None,
    reissue: bool = False,
) -> ClassCodes:
    """Activation codes for the class's guardians (role guardian, scope each child) and/or
    pupils (role pupil), for those who have no account and no unused code yet; the others are
    listed as skipped, with the reason. With `reissue`, those holding an unused code get a new
    one and the old is withdrawn (audited): for a lost printout. A guardian of two children in
    the class (twins) gets one code for both. The caller must manage accounts in the class's
    school (checked by accounts for every grant)."""
    if who not in ("guardians", "pupils", "both"):
        raise ValidationFailed(key="people.codes_who_invalid")
    target = await class_target(class_id)
    if actor.principal is not None and not actor.principal.allows(
        Permission.ACCOUNTS_MANAGE, target
    ):
        raise NotFound()
    pupils = await students_of_class(class_id, on or today())
    if not pupils:
        return ClassCodes([], [])
    ids = [p.id for p in pupils]
    names = {p.id: _name(p.last_name, p.first_name) for p in pupils}
    # (display name, grants, school) and where to store the code id once issued.
    items: list[tuple[str, list[Grant], int | None]] = []
    owners: list[tuple[str, int, list[str]]] = []
    skipped: list[SkippedCode] = []
    old_codes: list[int] = []

    def wanted(row: dict[str, Any], kind: Literal["guardian", "pupil"], kids: list[str]) -> bool:
        full_name = _name(row["last_name"], row["first_name"], row["middle_name"])
        if row["user_id"] is not None:
            skipped.append(SkippedCode(full_name, kind, kids, "has_account"))
            return False
        if row["activation_code_id"] is not None:
            if not reissue:
                skipped.append(SkippedCode(full_name, kind, kids, "has_code"))
                return False
            old_codes.append(int(row["activation_code_id"]))
        return True

    if who in ("pupils", "both"):
        rows = await Student.select().where(Student.id.is_in(ids))
        for r in sorted(rows, key=lambda r: (r["last_name"], r["first_name"])):
            if not wanted(r, "pupil", [names[r["id"]]]):
                continue
            name = _name(r["last_name"], r["first_name"], r["middle_name"])
            items.append((name, [Grant(Role.PUPIL, ScopeKind.STUDENT, r["id"])], target.school_id))
            owners.append(("pupil", r["id"], [names[r["id"]]]))
    if who in ("guardians", "both"):
        links = await StudentGuardian.select(
            StudentGuardian.student, StudentGuardian.guardian
        ).where(StudentGuardian.student.is_in(ids))
        children: dict[int, list[int]] = {}
        for link in links:
            children.setdefault(link["guardian"], []).append(link["student"])
        if children:
            guardians = await Guardian.select().where(Guardian.id.is_in(list(children)))
            for g in sorted(guardians, key=lambda r: (r["last_name"], r["first_name"])):
                kids = sorted(children[g["id"]])
                if not wanted(g, "guardian", [names[k] for k in kids]):
                    continue
                items.append(
                    (
                        _name(g["last_name"], g["first_name"], g["middle_name"]),
                        [Grant(Role.GUARDIAN, ScopeKind.STUDENT, k) for k in kids],
                        target.school_id,
                    )
                )
                owners.append(("guardian", g["id"], [names[k] for k in kids]))
    if not items:
        return ClassCodes([], skipped)
    async with transaction():
        for code_id in old_codes:
            await accounts.withdraw_activation_code(actor, code_id)
        issued = await accounts.issue_activation_codes(actor, items)
        printed: list[PrintedCode] = []
        for code, (kind, owner_id, pupil_names) in zip(issued, owners, strict=True):
            if kind == "pupil":
                await Student.update({Student.activation_code_id: code.id}).where(
                    Student.id == owner_id
                )
            else:
                await Guardian.update({Guardian.activation_code_id: code.id}).where(
                    Guardian.id == owner_id
                )
            printed.append(
                PrintedCode(
                    code.display_name,
                    code.code,
                    "pupil" if kind == "pupil" else "guardian",
                    pupil_names,
                    code.expires_at,
                )
            )
        if old_codes:
            await record(
                actor,
                "activation_codes.reissue",
                object_type="school_class",
                object_id=class_id,
                school_id=target.school_id,
                details={"withdrawn": old_codes[:500], "issued": [c.id for c in issued][:500]},
            )
    return ClassCodes(printed, skipped, len(old_codes))
