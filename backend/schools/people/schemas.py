"""API shapes of people, personal files, consent, delegates and the book of movement.

Request bodies refuse unknown fields. In updates a field left out is `UNSET` (not changed).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

from backend.core.bounds import Id

Str100 = Annotated[str, msgspec.Meta(max_length=100)]
Str300 = Annotated[str, msgspec.Meta(max_length=300)]
Str500 = Annotated[str, msgspec.Meta(max_length=500)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class Strict(msgspec.Struct, forbid_unknown_fields=True):
    pass


# ---- book of movement ----------------------------------------------------------------------


class MovementIn(Strict):
    kind: Literal["admitted", "transferred", "left", "graduated"]
    date: date
    order_number: Annotated[str, msgspec.Meta(max_length=64)]
    class_id: Id | None = None
    reason: Str300 = ""


class MovementOut(msgspec.Struct):
    id: int
    kind: str
    date: date
    order_number: str
    school_id: int
    class_id: int | None
    class_name: str | None
    reason: str


class ClassOnDate(msgspec.Struct):
    student_id: int
    date: date
    class_id: int | None
    class_name: str | None


class PupilOut(msgspec.Struct):
    id: int
    last_name: str
    first_name: str
    middle_name: str
    has_account: bool


class CodesRequest(Strict):
    who: Literal["guardians", "pupils", "both"] = "guardians"
    # Replace the unused codes of those who already have one (a lost printout): the old codes
    # stop working.
    reissue: bool = False


class PrintedCodeOut(msgspec.Struct):
    full_name: str
    code: str
    kind: str
    pupils: list[str]
    expires_at: datetime


class SkippedCodeOut(msgspec.Struct):
    full_name: str
    kind: str
    pupils: list[str]
    reason: str  # has_account | has_code
    message: str


class ClassCodesOut(msgspec.Struct):
    """New codes to print, and who got none and why (with `reissue`, unused codes are
    replaced)."""

    issued: list[PrintedCodeOut]
    skipped: list[SkippedCodeOut]
    withdrawn: int
    message: str


# ---- consent -------------------------------------------------------------------------------


class ConsentIn(Strict):
    given_on: date
    document_ref: Str300 = ""
    given_by_guardian_id: Id | None = None
    kind: Literal["personal_data", "cross_border"] = "personal_data"


class ConsentSubjectIn(Strict):
    subject_kind: Literal["student", "guardian", "staff"]
    subject_id: Id
    given_on: date
    document_ref: Str300 = ""
    given_by_guardian_id: Id | None = None
    kind: Literal["personal_data", "cross_border"] = "personal_data"


class ConsentRevoke(Strict):
    revoked_on: date


class ConsentOut(msgspec.Struct):
    id: int
    subject_kind: str
    subject_id: int
    kind: str
    given_on: date
    given_by_guardian_id: int | None
    document_ref: str
    revoked_on: date | None


# ---- pupils --------------------------------------------------------------------------------


class BenefitIn(Strict):
    code: Annotated[str, msgspec.Meta(max_length=32)]
    valid_from: date
    valid_to: date | None = None
    document: Str300 = ""


class StudentCreate(Strict):
    school_id: Id
    last_name: Name
    first_name: Name
    middle_name: Str100 = ""
    personal_file_number: Annotated[str, msgspec.Meta(max_length=32)] = ""
    consent: ConsentIn | None = None
    birth_date: date | None = None
    sex: str = ""
    citizenship: Annotated[str, msgspec.Meta(max_length=64)] = ""
    snils: str | None = None
    document_kind: str = ""
    document_series: Annotated[str, msgspec.Meta(max_length=16)] = ""
    document_number: Annotated[str, msgspec.Meta(max_length=32)] = ""
    document_issued_on: date | None = None
    document_issued_by: Str300 = ""
    registration_address: Str500 = ""
    residence_address: Str500 = ""
    phone: str | None = None
    email: str | None = None
    health_group: str = ""
    pe_group: str = ""
    benefits: list[BenefitIn] = []


class StudentUpdate(Strict):
    last_name: Name | msgspec.UnsetType = msgspec.UNSET
    first_name: Name | msgspec.UnsetType = msgspec.UNSET
    middle_name: Str100 | msgspec.UnsetType = msgspec.UNSET
    personal_file_number: Annotated[str, msgspec.Meta(max_length=32)] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    birth_date: date | msgspec.UnsetType | None = msgspec.UNSET
    sex: str | msgspec.UnsetType = msgspec.UNSET
    citizenship: Annotated[str, msgspec.Meta(max_length=64)] | msgspec.UnsetType = msgspec.UNSET
    snils: str | msgspec.UnsetType | None = msgspec.UNSET
    document_kind: str | msgspec.UnsetType = msgspec.UNSET
    document_series: Annotated[str, msgspec.Meta(max_length=16)] | msgspec.UnsetType = msgspec.UNSET
    document_number: Annotated[str, msgspec.Meta(max_length=32)] | msgspec.UnsetType = msgspec.UNSET
    document_issued_on: date | msgspec.UnsetType | None = msgspec.UNSET
    document_issued_by: Str300 | msgspec.UnsetType = msgspec.UNSET
    registration_address: Str500 | msgspec.UnsetType = msgspec.UNSET
    residence_address: Str500 | msgspec.UnsetType = msgspec.UNSET
    phone: str | msgspec.UnsetType | None = msgspec.UNSET
    email: str | msgspec.UnsetType | None = msgspec.UNSET
    health_group: str | msgspec.UnsetType = msgspec.UNSET
    pe_group: str | msgspec.UnsetType = msgspec.UNSET


class StudentCard(msgspec.Struct):
    """What anyone allowed to see the pupil sees: names, school, class today."""

    id: int
    school_id: int
    last_name: str
    first_name: str
    middle_name: str
    class_id: int | None
    class_name: str | None
    archived: bool


class BenefitOut(msgspec.Struct):
    code: str
    name: str
    valid_from: date
    valid_to: date | None
    document: str


class PersonalFile(msgspec.Struct):
    """The personal file (личное дело) without health: for PERSONAL_FILE_READ."""

    id: int
    school_id: int
    personal_file_number: str
    last_name: str
    first_name: str
    middle_name: str
    birth_date: date | None
    sex: str
    citizenship: str
    snils: str | None
    document_kind: str
    document_series: str
    document_number: str
    document_issued_on: date | None
    document_issued_by: str
    registration_address: str
    residence_address: str
    phone: str | None
    email: str | None
    benefits: list[BenefitOut]
    has_consent: bool


class HealthOut(msgspec.Struct):
    student_id: int
    health_group: str
    pe_group: str


# ---- guardians -----------------------------------------------------------------------------


class ChildLink(Strict):
    student_id: Id
    relation: Literal["mother", "father", "guardian", "other"] = "other"
    is_legal_representative: bool = True


class GuardianCreate(Strict):
    last_name: Name
    first_name: Name
    children: Annotated[list[ChildLink], msgspec.Meta(min_length=1, max_length=20)]
    middle_name: Str100 = ""
    consent: ConsentIn | None = None
    phone: str | None = None
    email: str | None = None
    snils: str | None = None
    document_kind: str = ""
    document_series: Annotated[str, msgspec.Meta(max_length=16)] = ""
    document_number: Annotated[str, msgspec.Meta(max_length=32)] = ""
    address: Str500 = ""


class GuardianOut(msgspec.Struct):
    id: int
    last_name: str
    first_name: str
    middle_name: str
    phone: str | None
    email: str | None
    snils: str | None
    document_kind: str
    document_series: str
    document_number: str
    address: str
    has_account: bool
    children: list[ChildOut]


class ChildOut(msgspec.Struct):
    student_id: int
    relation: str
    is_legal_representative: bool


class GuardianContact(msgspec.Struct):
    """A pupil's guardian as the class teacher sees them: who, and how to reach them."""

    guardian_id: int
    full_name: str
    relation: str
    is_legal_representative: bool
    phone: str | None
    email: str | None
    has_account: bool


# ---- staff ---------------------------------------------------------------------------------


class StaffCreate(Strict):
    school_id: Id
    last_name: Name
    first_name: Name
    positions: Annotated[list[str], msgspec.Meta(min_length=1, max_length=10)]
    middle_name: Str100 = ""
    consent: ConsentIn | None = None
    birth_date: date | None = None
    sex: str = ""
    snils: str | None = None
    phone: str | None = None
    email: str | None = None
    hired_on: date | None = None


class StaffOut(msgspec.Struct):
    id: int
    school_id: int
    last_name: str
    first_name: str
    middle_name: str
    positions: list[str]
    user_id: int | None


# ---- delegates -----------------------------------------------------------------------------


class DelegateCreate(Strict):
    full_name: Annotated[str, msgspec.Meta(min_length=3, max_length=300)]
    parts: Annotated[list[str], msgspec.Meta(min_length=1, max_length=3)]
    valid_until: datetime
    phone: Annotated[str, msgspec.Meta(max_length=32)] | None = None


class DelegateOut(msgspec.Struct):
    id: int
    student_id: int
    full_name: str
    phone: str | None
    parts: list[str]
    valid_from: datetime
    valid_until: datetime
    revoked_at: datetime | None
    has_account: bool
    activation_code: str | None = None  # shown once, when the invitation is made


class FamilyChild(msgspec.Struct):
    """A child the signed-in family member may act for, and what they may do."""

    student_id: int
    last_name: str
    first_name: str
    class_name: str | None
    role: str
    parts: list[str] | None
    valid_until: datetime | None
    time_zone: str  # the school's: times of the child's day are shown in it


# ---- import --------------------------------------------------------------------------------


class ImportProblemOut(msgspec.Struct):
    line: int
    column: str
    message: str


class ImportChangeOut(msgspec.Struct):
    """One field a line changes of a person already on file (values as the export writes)."""

    line: int
    column: str
    old: str
    new: str


class ImportReportOut(msgspec.Struct):
    kind: str
    imported: bool
    rows: int
    created: int
    would_create: int  # how many records the file creates (told by a dry run too)
    updated: int  # people recognised (by «Код в Парте» or SNILS) and changed
    would_update: int
    unchanged: int  # people recognised whom the file leaves as they are
    problems: list[ImportProblemOut]
    changes: list[ImportChangeOut]
