"""Consent to personal data processing (согласие на обработку ПДн, 152-FZ).

Personal data beyond names and class is stored only for a person with a `personal_data` consent
on file that is not revoked. For a pupil the consent is given by a legal representative (or
recorded from a paper form the school keeps: `document_ref`).

A pupil's data goes to a service abroad (Telegram, FCM, a foreign e-mail service) only under
the one rule of `cross_border` (152-FZ, art. 12; decision 0620): a live `cross_border` consent
for that pupil, and a school that does not forbid it. The notifications' fan-out and the family
bot both ask `cross_border_allowed`; a legal representative gives and withdraws that consent
through `give_cross_border` / `withdraw_cross_border`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from enum import StrEnum
from typing import Any, Literal

from backend.audit.services import AuditAction, record
from backend.core.context import Actor
from backend.core.days import today_in
from backend.core.db import transaction
from backend.core.errors import Conflict, NotFound, ValidationFailed
from backend.core.rights import Role, ScopeKind, ScopeTarget
from backend.i18n import t
from backend.schools.people import movement
from backend.schools.tables import Consent, Student, StudentGuardian

SubjectKind = Literal["student", "guardian", "staff"]
SUBJECT_KINDS = ("student", "guardian", "staff")
CONSENT_KINDS = ("personal_data", "cross_border")


async def has_consent(
    subject_kind: str, subject_id: int, kind: str = "personal_data", on: date | None = None
) -> bool:
    """A consent of `kind` given on or before `on` (today) and not revoked by then."""
    day = on or today_in()
    rows = await Consent.select(Consent.revoked_on).where(
        (Consent.subject_kind == subject_kind)
        & (Consent.subject_id == subject_id)
        & (Consent.kind == kind)
        & (Consent.given_on <= day)
    )
    return any(r["revoked_on"] is None or r["revoked_on"] > day for r in rows)


async def consented(subject_kind: str, subject_ids: Iterable[int]) -> set[int]:
    """Which of these people have a live personal data consent (one query, for lists)."""
    ids = list(set(subject_ids))
    if not ids:
        return set()
    day = today_in()
    rows = await Consent.select(Consent.subject_id, Consent.revoked_on).where(
        (Consent.subject_kind == subject_kind)
        & Consent.subject_id.is_in(ids)
        & (Consent.kind == "personal_data")
        & (Consent.given_on <= day)
    )
    return {r["subject_id"] for r in rows if r["revoked_on"] is None or r["revoked_on"] > day}


def field_names(fields: Iterable[str]) -> str:
    return ", ".join(t(f"people.field.{f}") for f in fields)


def consent_required_message(subject_kind: str, fields: Iterable[str]) -> str:
    """«No consent for this person: only ... may be stored»; what may be depends on who."""
    return t(
        "people.consent_required",
        who=t(f"people.who.{subject_kind}"),
        allowed=t(f"consent_allows.{subject_kind}"),
        fields=field_names(fields),
    )


async def require_consent(subject_kind: str, subject_id: int, fields: list[str]) -> None:
    """Refuse to store `fields` (personal data) without consent; the message names them."""
    if not fields or await has_consent(subject_kind, subject_id):
        return
    message = consent_required_message(subject_kind, fields)
    raise ValidationFailed(
        message,
        details=[{"field": f, "message": message} for f in fields],
    )


async def record_consent(
    actor: Actor,
    subject_kind: str,
    subject_id: int,
    *,
    given_on: date,
    document_ref: str = "",
    given_by_guardian_id: int | None = None,
    kind: str = "personal_data",
    target: ScopeTarget | None = None,
) -> dict[str, Any]:
    """Record a consent. The caller has checked the actor's right over the subject."""
    if subject_kind not in SUBJECT_KINDS or kind not in CONSENT_KINDS:
        raise ValidationFailed()
    if given_on > today_in():
        message = t("people.consent_future")
        raise ValidationFailed(message, details=[{"field": "given_on", "message": message}])
    if given_by_guardian_id is not None:
        linked = await StudentGuardian.exists().where(
            (StudentGuardian.guardian == given_by_guardian_id)
            & (StudentGuardian.student == subject_id)
            & (StudentGuardian.is_legal_representative == True)  # noqa: E712
        )
        if subject_kind != "student" or not linked:
            message = t("people.consent_guardian_unrelated")
            raise ValidationFailed(
                message, details=[{"field": "given_by_guardian_id", "message": message}]
            )
    async with transaction():
        row = Consent(
            subject_kind=subject_kind,
            subject_id=subject_id,
            kind=kind,
            given_by_guardian=given_by_guardian_id,
            given_on=given_on,
            document_ref=document_ref.strip()[:200],
            recorded_by=actor.user_id,
        )
        await row.save()
        await record(
            actor,
            AuditAction.CREATE,
            object_type="consent",
            object_id=row.id,
            school_id=target.school_id if target else None,
            student_id=subject_id if subject_kind == "student" else None,
            details={"subject_kind": subject_kind, "subject_id": subject_id, "kind": kind},
        )
    return consent_out(row)


async def revoke_consent(
    actor: Actor, consent_id: int, revoked_on: date, target: ScopeTarget | None = None
) -> dict[str, Any]:
    """Mark a consent revoked from a date. What was stored stays (the school keeps the personal
    file under education law); nothing more can be added without a new consent."""
    async with transaction():
        row = await Consent.objects().where(Consent.id == consent_id).first()
        if row is None:
            raise NotFound()
        if row.revoked_on is not None:
            raise Conflict(key="people.consent_revoked")
        row.revoked_on = revoked_on
        await row.save([Consent.revoked_on])
        await record(
            actor,
            AuditAction.UPDATE,
            object_type="consent",
            object_id=row.id,
            school_id=target.school_id if target else None,
            student_id=row.subject_id if row.subject_kind == "student" else None,
            details={"revoked_on": revoked_on.isoformat()},
        )
    return consent_out(row)


async def subject_of(consent_id: int) -> tuple[str, int]:
    row = (
        await Consent.select(Consent.subject_kind, Consent.subject_id)
        .where(Consent.id == consent_id)
        .first()
    )
    if row is None:
        raise NotFound()
    return row["subject_kind"], row["subject_id"]


async def consents_of(subject_kind: str, subject_id: int) -> list[dict[str, Any]]:
    rows = (
        await Consent.objects()
        .where((Consent.subject_kind == subject_kind) & (Consent.subject_id == subject_id))
        .order_by(Consent.id)
    )
    return [consent_out(r) for r in rows]


def consent_out(row: Consent) -> dict[str, Any]:
    return {
        "id": row.id,
        "subject_kind": row.subject_kind,
        "subject_id": row.subject_id,
        "kind": row.kind,
        "given_on": row.given_on,
        "given_by_guardian_id": row.given_by_guardian,
        "document_ref": row.document_ref,
        "revoked_on": row.revoked_on,
    }


# ---- data abroad (cross-border transfer) ----------------------------------------------------


class CrossBorder(StrEnum):
    """Whether a pupil's data may go to a service abroad, and if not, why."""

    ALLOWED = "allowed"
    NO_CONSENT = "no_consent"  # no live consent of a legal representative
    FORBIDDEN = "forbidden"  # the school forbids it, consent or not


def school_forbids_cross_border(settings: dict[str, Any] | str | None) -> bool:
    """The school's switch: `settings["notification_defaults"]["forbid_cross_border"]`."""
    if isinstance(settings, str):  # SQLite (and a JSON column read by a join) hand back text
        import json

        settings = json.loads(settings or "{}")
    found: dict[str, Any] = settings if isinstance(settings, dict) else {}
    notify = found.get("notification_defaults") or {}
    return bool(notify.get("forbid_cross_border", False))


def _live(row: dict[str, Any], day: date) -> bool:
    return bool(row["given_on"] <= day and (row["revoked_on"] is None or row["revoked_on"] > day))


async def cross_border_status(student_ids: Iterable[int]) -> dict[int, CrossBorder]:
    """The rule, once, for each pupil (two queries for any number): ALLOWED only with a live
    `cross_border` consent (given by today, not revoked by today) and a school that does not
    forbid it. A pupil not found is NO_CONSENT."""
    wanted = list(set(student_ids))
    if not wanted:
        return {}
    schools = await Student.select(Student.id, Student.school.settings).where(
        Student.id.is_in(wanted)
    )
    forbidden = {r["id"] for r in schools if school_forbids_cross_border(r["school.settings"])}
    day = today_in()
    rows = await Consent.select(Consent.subject_id, Consent.given_on, Consent.revoked_on).where(
        (Consent.subject_kind == "student")
        & (Consent.kind == "cross_border")
        & Consent.subject_id.is_in(wanted)
    )
    consented = {r["subject_id"] for r in rows if _live(r, day)}
    return {
        sid: CrossBorder.FORBIDDEN
        if sid in forbidden
        else CrossBorder.ALLOWED
        if sid in consented
        else CrossBorder.NO_CONSENT
        for sid in wanted
    }


async def cross_border_allowed(student_ids: Iterable[int]) -> set[int]:
    """The pupils whose data may go abroad now (`cross_border_status` is ALLOWED)."""
    found = await cross_border_status(student_ids)
    return {sid for sid, status in found.items() if status is CrossBorder.ALLOWED}


async def represented_by(user_id: int, student_ids: Iterable[int]) -> dict[int, int]:
    """Which of these pupils the account's guardian is a legal representative of (by
    `StudentGuardian.is_legal_representative`): pupil id -> guardian id."""
    wanted = list(set(student_ids))
    if not wanted:
        return {}
    rows = await StudentGuardian.select(StudentGuardian.student, StudentGuardian.guardian).where(
        StudentGuardian.student.is_in(wanted)
        & (StudentGuardian.guardian.user_id == user_id)
        & (StudentGuardian.is_legal_representative == True)  # noqa: E712
    )
    return {r["student"]: r["guardian"] for r in rows}


async def _acting_for(actor: Actor, student_ids: Iterable[int]) -> dict[int, int]:
    """The pupils among these that the actor acts for as a legal representative: a live
    guardian grant at the pupil and the guardian's record saying so."""
    if actor.principal is None or actor.user_id is None:
        return {}
    granted = {
        g.scope_id
        for g in actor.principal.live_grants()
        if g.role is Role.GUARDIAN and g.scope_kind is ScopeKind.STUDENT and g.scope_id
    }
    return await represented_by(actor.user_id, set(student_ids) & granted)


async def give_cross_border(
    actor: Actor, student_ids: Iterable[int], source: str
) -> list[dict[str, Any]]:
    """The actor, a legal representative, consents to the transfer of these pupils' data
    abroad, from today (`source` says where: «Telegram-бот»). Pupils the actor does not
    represent, or who have a live consent already, are left as they are; a school's ban
    stays in force whatever is consented. Each consent is audited."""
    represented = await _acting_for(actor, student_ids)
    given = []
    for sid, guardian_id in sorted(represented.items()):
        # The deployment's day, as every check of a consent reads it (`has_consent`).
        day = today_in()
        if await has_consent("student", sid, "cross_border", on=day):
            continue
        given.append(
            await record_consent(
                actor,
                "student",
                sid,
                given_on=day,
                document_ref=source,
                given_by_guardian_id=guardian_id,
                kind="cross_border",
                target=await _target(sid),
            )
        )
    return given


async def withdraw_cross_border(actor: Actor, student_ids: Iterable[int]) -> list[dict[str, Any]]:
    """The actor, a legal representative, withdraws the cross-border consent of these pupils
    (whoever gave it): revoked from today, audited. Pupils the actor does not represent are
    left as they are."""
    represented = await _acting_for(actor, student_ids)
    if not represented:
        return []
    day = today_in()
    rows = await Consent.select(
        Consent.id, Consent.subject_id, Consent.given_on, Consent.revoked_on
    ).where(
        (Consent.subject_kind == "student")
        & (Consent.kind == "cross_border")
        & Consent.subject_id.is_in(list(represented))
    )
    withdrawn = []
    for row in rows:
        # One already revoked (from a past or a coming date) is the school's record: kept.
        if row["revoked_on"] is not None or row["given_on"] > day:
            continue
        sid = row["subject_id"]
        withdrawn.append(await revoke_consent(actor, row["id"], day, target=await _target(sid)))
    return withdrawn


async def _target(student_id: int) -> ScopeTarget:
    return await movement.student_target(student_id)
