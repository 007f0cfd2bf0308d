"""Grants, scopes and permissions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend.core.rights import (
    ROLE_PERMISSIONS,
    Grant,
    Permission,
    Principal,
    Role,
    ScopeKind,
    ScopeTarget,
)

SCHOOL_7 = ScopeTarget(region_id=1, municipality_id=2, school_id=7, class_id=70, student_id=700)


def test_scopes_cover_their_subtree_only() -> None:
    assert Grant(Role.SYSTEM_ADMIN, ScopeKind.SYSTEM).covers(SCHOOL_7)
    assert Grant(Role.REGIONAL_OFFICIAL, ScopeKind.REGION, 1).covers(SCHOOL_7)
    assert not Grant(Role.REGIONAL_OFFICIAL, ScopeKind.REGION, 9).covers(SCHOOL_7)
    assert Grant(Role.MUNICIPAL_OFFICIAL, ScopeKind.MUNICIPALITY, 2).covers(SCHOOL_7)
    assert Grant(Role.TEACHER, ScopeKind.SCHOOL, 7).covers(SCHOOL_7)
    assert not Grant(Role.TEACHER, ScopeKind.SCHOOL, 8).covers(SCHOOL_7)
    assert Grant(Role.CLASS_TEACHER, ScopeKind.CLASS, 70).covers(SCHOOL_7)
    assert Grant(Role.GUARDIAN, ScopeKind.STUDENT, 700).covers(SCHOOL_7)
    assert not Grant(Role.GUARDIAN, ScopeKind.STUDENT, 701).covers(SCHOOL_7)
    # A school-level target does not reveal its pupils to a pupil-level grant.
    assert not Grant(Role.GUARDIAN, ScopeKind.STUDENT, 700).covers(ScopeTarget(school_id=7))


def test_class_grant_covers_every_class_of_a_pupil() -> None:
    pupil = ScopeTarget(school_id=7, student_id=700, class_ids=frozenset({70, 71}))
    assert Grant(Role.CLASS_TEACHER, ScopeKind.CLASS, 71).covers(pupil)


def test_delegate_parts_narrow_the_role_and_expire() -> None:
    now = datetime.now(UTC)
    delegate = Grant(
        Role.DELEGATE,
        ScopeKind.STUDENT,
        700,
        valid_until=now + timedelta(days=1),
        parts=frozenset({Permission.DIARY_READ}),
    )
    principal = Principal(user_id=1, grants=(delegate,))
    assert principal.allows(Permission.DIARY_READ, SCHOOL_7)
    assert not principal.allows(Permission.MEALS_ORDER, SCHOOL_7)
    expired = Principal(
        user_id=1,
        grants=(
            Grant(Role.DELEGATE, ScopeKind.STUDENT, 700, valid_until=now - timedelta(seconds=1)),
        ),
    )
    assert not expired.allows(Permission.DIARY_READ, SCHOOL_7)
    assert not expired.has_permission(Permission.DIARY_READ)


def test_claims_round_trip() -> None:
    grant = Grant(
        Role.DELEGATE,
        ScopeKind.STUDENT,
        5,
        valid_until=datetime(2027, 1, 1, tzinfo=UTC),
        parts=frozenset({Permission.DIARY_READ, Permission.ACCESS_READ}),
    )
    assert Grant.from_claim(grant.to_claim()) == grant


def test_subject_teacher_has_no_health_or_personal_file() -> None:
    teacher = ROLE_PERMISSIONS[Role.TEACHER]
    assert Permission.HEALTH_READ not in teacher
    assert Permission.PERSONAL_FILE_READ not in teacher
    assert Permission.JOURNAL_WRITE in teacher


def test_scope_ids_for_filtering_lists() -> None:
    principal = Principal(
        user_id=1,
        grants=(
            Grant(Role.SCHOOL_ADMIN, ScopeKind.SCHOOL, 7),
            Grant(Role.TEACHER, ScopeKind.SCHOOL, 8),
        ),
    )
    assert principal.scope_ids(Permission.AUDIT_READ, ScopeKind.SCHOOL) == {7}
    assert principal.scope_ids(Permission.JOURNAL_WRITE, ScopeKind.SCHOOL) == {8}
    assert not principal.is_system(Permission.AUDIT_READ)
