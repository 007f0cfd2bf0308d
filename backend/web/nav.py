"""The staff web's sections: one line each, shown in the top navigation and on the start page
to those who hold one of the section's permissions. A section's module adds its line here and
its Controller to `backend/web/routes.py`."""

from __future__ import annotations

from dataclasses import dataclass

from backend.core.rights import Permission, Principal, Role

JOURNAL_PERMISSIONS = (
    Permission.JOURNAL_READ,
    Permission.JOURNAL_WRITE,
    Permission.JOURNAL_MANAGE,
)
# The journal's list offers a class's journal to who writes it (teachers, class teachers) or
# manages it (the coordinator); every member of staff reads journals (journal.read), but with
# that alone the list is empty, so the section is not shown for it (its pages still open).
JOURNAL_LISTS = (Permission.JOURNAL_WRITE, Permission.JOURNAL_MANAGE)
YEAR_PERMISSIONS = (Permission.STRUCTURE_MANAGE, Permission.STRUCTURE_READ)
MESSAGE_PERMISSIONS = (Permission.NOTIFY_SCHOOL,)
# Meals: the canteen and the caterer (meals.manage), the office's money (meals.accounts).
MEALS_PERMISSIONS = (Permission.MEALS_MANAGE, Permission.MEALS_ACCOUNTS)
# Entries: security (and the school's administrator) on the turnstiles' log, cards and points.
ENTRIES_PERMISSIONS = (Permission.ACCESS_READ, Permission.ACCESS_MANAGE)
TASK_PERMISSIONS = (Permission.STRUCTURE_MANAGE, Permission.ACCOUNTS_MANAGE)
# People: the secretary, the class teacher (their class's files), who manages accounts, auditors.
PEOPLE_PERMISSIONS = (
    Permission.PERSONAL_FILE_READ,
    Permission.PERSONAL_FILE_WRITE,
    Permission.ACCOUNTS_MANAGE,
    Permission.AUDIT_READ,
)


@dataclass(frozen=True, slots=True)
class Section:
    key: str  # web.section.<key> (title) and web.section.<key>_hint (one line on the start page)
    path: str  # absolute, under /admin
    permissions: tuple[Permission, ...]


SECTIONS: tuple[Section, ...] = (
    Section("journal", "/admin/web/journal", JOURNAL_LISTS),
    Section("people", "/admin/web/people", PEOPLE_PERMISSIONS),
    Section("timetable", "/admin/web/timetable", YEAR_PERMISSIONS),
    Section("messages", "/admin/web/messages", MESSAGE_PERMISSIONS),
    Section("reports", "/admin/web/reports", (Permission.REPORTS_READ,)),
    Section("meals", "/admin/web/meals", MEALS_PERMISSIONS),
    Section("entries", "/admin/web/entries", ENTRIES_PERMISSIONS),
    Section("tasks", "/admin/tasks", TASK_PERMISSIONS),
)

# Families' roles: a guardian, delegate or pupil sees no staff page, whatever else they hold.
FAMILY_ROLES = frozenset({Role.GUARDIAN, Role.DELEGATE, Role.PUPIL})
STAFF_ROLES = tuple(role for role in Role if role not in FAMILY_ROLES)


def is_staff(principal: Principal) -> bool:
    return principal.has_role(*STAFF_ROLES)


def staff_permissions(principal: Principal) -> frozenset[Permission]:
    """What the person may do as staff: a teacher who is also a guardian does not open the
    security pages because her child's grant reads entries."""
    return frozenset(
        p for g in principal.live_grants() if g.role in STAFF_ROLES for p in g.permissions()
    )


def visible_sections(principal: Principal) -> tuple[Section, ...]:
    held = staff_permissions(principal)
    return tuple(s for s in SECTIONS if held.intersection(s.permissions))
