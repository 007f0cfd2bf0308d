"""HTTP endpoints of people: pupils, guardians, staff, consent, delegates, the book of movement,
activation codes for a class, import and export. Thin: parse, call a service, shape the answer."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Response, get, patch, post
from litestar.di import Provide
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from backend.accounts.deps import AccountsDep, provide_accounts
from backend.core.bounds import PathId
from backend.core.context import Actor
from backend.core.files_openapi import CSV, XLSX, answers_in
from backend.core.http import ActorDep, FileForm, PrincipalDep, requires, requires_role, signed_in
from backend.core.rights import Permission, Role, ScopeKind
from backend.i18n import t
from backend.schools.people import delegates, imports, movement, personal_files
from backend.schools.people import services as people
from backend.schools.people.schemas import (
    BenefitIn,
    BenefitOut,
    ChildOut,
    ClassCodesOut,
    ClassOnDate,
    CodesRequest,
    ConsentIn,
    ConsentOut,
    ConsentRevoke,
    ConsentSubjectIn,
    DelegateCreate,
    DelegateOut,
    FamilyChild,
    GuardianContact,
    GuardianCreate,
    GuardianOut,
    HealthOut,
    ImportChangeOut,
    ImportProblemOut,
    ImportReportOut,
    MovementIn,
    MovementOut,
    PersonalFile,
    PrintedCodeOut,
    PupilOut,
    SkippedCodeOut,
    StaffCreate,
    StaffOut,
    StudentCard,
    StudentCreate,
    StudentUpdate,
)

StudentId = PathId
ClassId = PathId


def _movement_out(row: dict[str, object]) -> MovementOut:
    return MovementOut(
        id=int(row["id"]),  # type: ignore[call-overload]
        kind=str(row["kind"]),
        date=row["date"],  # type: ignore[arg-type]
        order_number=str(row["order_number"]),
        school_id=int(row["school"]),  # type: ignore[call-overload]
        class_id=row["school_class"],  # type: ignore[arg-type]
        class_name=row["class_name"],  # type: ignore[arg-type]
        reason=str(row["reason"]),
    )


class MovementController(Controller):
    path = "/api/v1/students/{student_id:int}"
    tags = ["Движение контингента"]

    @post(
        "/movements",
        guards=[requires(Permission.PERSONAL_FILE_WRITE)],
        status_code=HTTP_201_CREATED,
        summary="Записать зачисление, перевод, выбытие или выпуск",
    )
    async def record(
        self, actor: ActorDep, student_id: StudentId, data: Annotated[MovementIn, Body()]
    ) -> MovementOut:
        await movement.record_movement(
            actor,
            student_id,
            data.kind,
            data.date,
            data.order_number,
            class_id=data.class_id,
            reason=data.reason,
        )
        rows = await movement.history(actor, student_id)
        return _movement_out(rows[-1])

    @get(
        "/movements",
        guards=[requires(Permission.PEOPLE_READ)],
        summary="Книга движения: история обучающегося",
    )
    async def history(self, actor: ActorDep, student_id: StudentId) -> list[MovementOut]:
        return [_movement_out(r) for r in await movement.history(actor, student_id)]

    @get(
        "/class",
        guards=[requires(Permission.PEOPLE_READ)],
        summary="В каком классе обучающийся был на дату",
    )
    async def class_on(
        self, actor: ActorDep, student_id: StudentId, on: FromQuery[date | None] = None
    ) -> ClassOnDate:
        day = on or movement.today()
        info = await movement.class_of_student_on(actor, student_id, day)
        return ClassOnDate(
            student_id=student_id,
            date=day,
            class_id=info.id if info else None,
            class_name=info.label if info else None,
        )


class ClassPeopleController(Controller):
    path = "/api/v1/classes/{class_id:int}"
    tags = ["Движение контингента"]
    dependencies = {"accounts": Provide(provide_accounts, sync_to_thread=False)}

    @get(
        "/pupils",
        guards=[requires(Permission.PEOPLE_READ)],
        summary="Список класса на дату (по книге движения)",
    )
    async def pupils(
        self, actor: ActorDep, class_id: ClassId, on: FromQuery[date | None] = None
    ) -> list[PupilOut]:
        movement.ensure(actor, Permission.PEOPLE_READ, await movement.class_target(class_id))
        refs = await people.students_of_class(class_id, on or movement.today())
        return [
            PupilOut(r.id, r.last_name, r.first_name, r.middle_name, r.user_id is not None)
            for r in refs
        ]

    @post(
        "/activation-codes",
        guards=[requires(Permission.ACCOUNTS_MANAGE)],
        status_code=HTTP_201_CREATED,
        summary="Коды активации для родителей и/или обучающихся класса (список для печати)",
    )
    async def codes(
        self,
        actor: ActorDep,
        accounts: AccountsDep,
        class_id: ClassId,
        data: Annotated[CodesRequest, Body()],
    ) -> ClassCodesOut:
        result = await people.issue_codes_for_class(
            actor, class_id, data.who, accounts=accounts, reissue=data.reissue
        )
        has_code = sum(1 for x in result.skipped if x.reason == "has_code")
        return ClassCodesOut(
            issued=[
                PrintedCodeOut(p.full_name, p.code, p.kind, p.pupils, p.expires_at)
                for p in result.printed
            ],
            skipped=[
                SkippedCodeOut(
                    x.full_name, x.kind, x.pupils, x.reason, t(f"codes.skipped.{x.reason}")
                )
                for x in result.skipped
            ],
            withdrawn=result.withdrawn,
            message=t(
                "codes.summary",
                issued=len(result.printed),
                has_account=len(result.skipped) - has_code,
                has_code=has_code,
                withdrawn=result.withdrawn,
            )
            + (t("codes.reissue_hint") if has_code else ""),
        )


def _consent(data: ConsentIn | None) -> dict[str, object] | None:
    if data is None:
        return None
    return {
        "given_on": data.given_on,
        "document_ref": data.document_ref,
        "given_by_guardian_id": data.given_by_guardian_id,
        "kind": data.kind,
    }


def _given(data: msgspec.Struct, *skip: str) -> dict[str, object]:
    """The fields a request gave (UNSET ones left out)."""
    return {
        name: value
        for name, value in msgspec.structs.asdict(data).items()
        if value is not msgspec.UNSET and name not in skip
    }


async def _personal_file_out(actor: Actor, student_id: int) -> PersonalFile:
    row = await personal_files.personal_file(actor, student_id)
    fields = {f: row[f] for f in PersonalFile.__struct_fields__ if f != "benefits"}
    return PersonalFile(**{**fields, "benefits": [BenefitOut(**b) for b in row["benefits"]]})


class StudentController(Controller):
    path = "/api/v1/students"
    tags = ["Обучающиеся"]

    @post(
        "/",
        guards=[requires(Permission.PERSONAL_FILE_WRITE)],
        status_code=HTTP_201_CREATED,
        summary="Создать личное дело обучающегося (ПДн только при наличии согласия)",
    )
    async def create(self, actor: ActorDep, data: Annotated[StudentCreate, Body()]) -> StudentCard:
        student_id = await personal_files.create_student(
            actor,
            data.school_id,
            _given(data, "school_id", "consent", "benefits"),
            consent_data=_consent(data.consent),
            benefits=[msgspec.structs.asdict(b) for b in data.benefits],
        )
        return StudentCard(**await personal_files.student_card(actor, student_id))

    @get(
        "/{student_id:int}",
        guards=[requires(Permission.PEOPLE_READ, Permission.DIARY_READ)],
        summary="Карточка обучающегося: ФИО, школа, класс",
    )
    async def card(self, actor: ActorDep, student_id: StudentId) -> StudentCard:
        return StudentCard(**await personal_files.student_card(actor, student_id))

    @patch(
        "/{student_id:int}",
        guards=[requires(Permission.PERSONAL_FILE_WRITE)],
        summary="Изменить личное дело обучающегося",
    )
    async def update(
        self, actor: ActorDep, student_id: StudentId, data: Annotated[StudentUpdate, Body()]
    ) -> StudentCard:
        await personal_files.update_student(actor, student_id, _given(data))
        return StudentCard(**await personal_files.student_card(actor, student_id))

    @get(
        "/{student_id:int}/personal-file",
        guards=[requires(Permission.PERSONAL_FILE_READ)],
        summary="Личное дело: документы, СНИЛС, адреса, льготы (чтение записывается в аудит)",
    )
    async def personal_file(self, actor: ActorDep, student_id: StudentId) -> PersonalFile:
        return await _personal_file_out(actor, student_id)

    @get(
        "/{student_id:int}/health",
        guards=[requires(Permission.HEALTH_READ)],
        summary="Группа здоровья и физкультурная группа (чтение записывается в аудит)",
    )
    async def health(self, actor: ActorDep, student_id: StudentId) -> HealthOut:
        return HealthOut(**await personal_files.health(actor, student_id))

    @post(
        "/{student_id:int}/benefits",
        guards=[requires(Permission.PERSONAL_FILE_WRITE)],
        status_code=HTTP_201_CREATED,
        summary="Добавить льготную категорию (нужно согласие на обработку ПДн)",
    )
    async def add_benefit(
        self, actor: ActorDep, student_id: StudentId, data: Annotated[BenefitIn, Body()]
    ) -> PersonalFile:
        await personal_files.add_benefit(actor, student_id, msgspec.structs.asdict(data))
        return await _personal_file_out(actor, student_id)

    @get(
        "/{student_id:int}/guardians",
        guards=[requires(Permission.PERSONAL_FILE_READ)],
        summary="Родители обучающегося и их контакты (чтение записывается в аудит)",
    )
    async def guardians(self, actor: ActorDep, student_id: StudentId) -> list[GuardianContact]:
        return [
            GuardianContact(**g) for g in await personal_files.guardian_contacts(actor, student_id)
        ]


class GuardianController(Controller):
    path = "/api/v1/guardians"
    tags = ["Родители"]

    @post(
        "/",
        guards=[requires(Permission.PERSONAL_FILE_WRITE)],
        status_code=HTTP_201_CREATED,
        summary="Добавить родителя (законного представителя) и связать с детьми",
    )
    async def create(self, actor: ActorDep, data: Annotated[GuardianCreate, Body()]) -> GuardianOut:
        guardian_id = await personal_files.create_guardian(
            actor,
            _given(data, "children", "consent"),
            [msgspec.structs.asdict(c) for c in data.children],
            consent_data=_consent(data.consent),
        )
        return _guardian_out(await personal_files.guardian_file(actor, guardian_id))

    @get(
        "/{guardian_id:int}",
        guards=[requires(Permission.PERSONAL_FILE_READ)],
        summary="Личное дело родителя (чтение записывается в аудит)",
    )
    async def read(self, actor: ActorDep, guardian_id: PathId) -> GuardianOut:
        return _guardian_out(await personal_files.guardian_file(actor, guardian_id))


def _guardian_out(row: dict[str, Any]) -> GuardianOut:
    fields = {f: row[f] for f in GuardianOut.__struct_fields__ if f != "children"}
    children = [ChildOut(**c) for c in row["children"]]
    return GuardianOut(**{**fields, "children": children})


class ConsentController(Controller):
    path = "/api/v1/consents"
    tags = ["Согласия на обработку ПДн"]

    @post(
        "/",
        guards=[requires(Permission.PERSONAL_FILE_WRITE)],
        status_code=HTTP_201_CREATED,
        summary="Внести согласие на обработку персональных данных",
    )
    async def create(
        self, actor: ActorDep, data: Annotated[ConsentSubjectIn, Body()]
    ) -> ConsentOut:
        row = await personal_files.add_consent(
            actor,
            data.subject_kind,
            data.subject_id,
            {
                "given_on": data.given_on,
                "document_ref": data.document_ref,
                "given_by_guardian_id": data.given_by_guardian_id,
                "kind": data.kind,
            },
        )
        return ConsentOut(**row)

    @post(
        "/{consent_id:int}/revoke",
        guards=[requires(Permission.PERSONAL_FILE_WRITE)],
        status_code=HTTP_200_OK,
        summary="Отметить отзыв согласия",
    )
    async def revoke(
        self,
        actor: ActorDep,
        consent_id: PathId,
        data: Annotated[ConsentRevoke, Body()],
    ) -> ConsentOut:
        return ConsentOut(**await personal_files.revoke_consent(actor, consent_id, data.revoked_on))


class StaffController(Controller):
    path = "/api/v1/staff"
    tags = ["Сотрудники"]

    @post(
        "/",
        guards=[requires(Permission.PERSONAL_FILE_WRITE)],
        status_code=HTTP_201_CREATED,
        summary="Добавить сотрудника с должностями",
    )
    async def create(self, actor: ActorDep, data: Annotated[StaffCreate, Body()]) -> StaffOut:
        staff_id = await personal_files.create_staff(
            actor,
            data.school_id,
            _given(data, "school_id", "positions", "consent"),
            data.positions,
            consent_data=_consent(data.consent),
        )
        return StaffOut(**await personal_files.staff_card(actor, staff_id))

    @get(
        "/{staff_id:int}",
        guards=[requires(Permission.PEOPLE_READ)],
        summary="Карточка сотрудника",
    )
    async def read(self, actor: ActorDep, staff_id: PathId) -> StaffOut:
        return StaffOut(**await personal_files.staff_card(actor, staff_id))


class FamilyController(Controller):
    path = "/api/v1/family"
    tags = ["Семья"]

    @get(
        "/children",
        guards=[signed_in],
        summary="Дети, от имени которых я могу действовать, и что мне доступно",
    )
    async def children(self, principal: PrincipalDep) -> list[FamilyChild]:
        grants = [
            g
            for g in principal.live_grants()
            if g.scope_kind is ScopeKind.STUDENT
            and g.scope_id is not None
            and g.role in (Role.GUARDIAN, Role.DELEGATE, Role.PUPIL)
        ]
        cards = await people.family_cards({g.scope_id for g in grants if g.scope_id})
        return [
            FamilyChild(
                student_id=g.scope_id,
                last_name=cards[g.scope_id]["last_name"],
                first_name=cards[g.scope_id]["first_name"],
                class_name=cards[g.scope_id]["class_name"],
                role=g.role.value,
                parts=sorted(p.value for p in g.parts) if g.parts is not None else None,
                valid_until=g.valid_until,
                time_zone=cards[g.scope_id]["time_zone"] or "Europe/Moscow",
            )
            for g in grants
            if g.scope_id in cards
        ]


class DelegateController(Controller):
    path = "/api/v1"
    tags = ["Доверенные лица"]
    dependencies = {"accounts": Provide(provide_accounts, sync_to_thread=False)}

    @post(
        "/students/{student_id:int}/delegates",
        guards=[requires_role(Role.GUARDIAN)],
        status_code=HTTP_201_CREATED,
        summary="Передать доверенному лицу доступ к ребёнку (что и до какого срока)",
    )
    async def create(
        self,
        actor: ActorDep,
        accounts: AccountsDep,
        student_id: StudentId,
        data: Annotated[DelegateCreate, Body()],
    ) -> DelegateOut:
        row = await delegates.grant_delegate(
            actor,
            accounts,
            student_id,
            full_name=data.full_name,
            parts=data.parts,
            valid_until=data.valid_until,
            phone=data.phone,
        )
        return DelegateOut(**row)

    @get(
        "/students/{student_id:int}/delegates",
        guards=[requires(Permission.PERSONAL_FILE_READ)],
        summary="Доверенные лица ребёнка",
    )
    async def list_of(self, actor: ActorDep, student_id: StudentId) -> list[DelegateOut]:
        return [DelegateOut(**r) for r in await delegates.delegates_of_student(actor, student_id)]

    @post(
        "/delegates/{delegate_id:int}/revoke",
        guards=[requires_role(Role.GUARDIAN)],
        status_code=HTTP_200_OK,
        summary="Отозвать доступ доверенного лица",
    )
    async def revoke(
        self,
        actor: ActorDep,
        accounts: AccountsDep,
        delegate_id: PathId,
    ) -> DelegateOut:
        return DelegateOut(**await delegates.revoke_delegate(actor, accounts, delegate_id))


IMPORT_MAX_BYTES = 20 * 1024 * 1024  # a region's biggest school as XLSX is a few megabytes
EXPORT_TYPES = {
    "csv": "text/csv",  # Litestar adds `; charset=utf-8` to text types itself
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class ImportExportController(Controller):
    path = "/api/v1/schools/{school_id:int}"
    tags = ["Импорт и экспорт"]

    @post(
        "/imports/{kind:str}",
        guards=[requires(Permission.PERSONAL_FILE_WRITE, Permission.STRUCTURE_MANAGE)],
        status_code=HTTP_201_CREATED,
        summary="Импорт CSV/XLSX: pupils, guardians, staff, classes (всё или ничего)",
        description="Файл проверяется целиком: отчёт перечисляет каждую ошибочную строку со "
        "столбцом и причиной; при любой ошибке ничего не записывается.",
        request_max_body_size=IMPORT_MAX_BYTES,
    )
    async def upload(
        self,
        actor: ActorDep,
        school_id: PathId,
        kind: FromPath[str],
        data: Annotated[FileForm, Body(media_type=RequestEncodingType.MULTI_PART)],
        dry_run: FromQuery[bool] = False,
        create_classes: FromQuery[bool] = False,
    ) -> ImportReportOut:
        content = await data.data.read()
        report = await imports.import_file(
            actor,
            school_id,
            kind,
            content,
            data.data.filename or "",
            create_classes=create_classes,
            dry_run=dry_run,
        )
        return ImportReportOut(
            kind=report.kind,
            imported=report.imported,
            rows=report.rows,
            created=report.created,
            would_create=report.would_create,
            updated=report.updated,
            would_update=report.would_update,
            unchanged=report.unchanged,
            problems=[ImportProblemOut(p.line, p.column, p.message) for p in report.problems],
            changes=[ImportChangeOut(c.line, c.column, c.old, c.new) for c in report.changes],
        )

    @get(
        "/exports/{kind:str}",
        guards=[requires(Permission.PERSONAL_FILE_READ, Permission.STRUCTURE_READ)],
        summary="Экспорт списка в CSV или XLSX (те же столбцы, что при импорте)",
        operation_class=answers_in(CSV, XLSX),
    )
    async def download(
        self,
        actor: ActorDep,
        school_id: PathId,
        kind: FromPath[str],
        # Named as the query says it, so a refusal names `format` too.
        format: Annotated[Literal["csv", "xlsx"], QueryParameter()] = "csv",
    ) -> Response[bytes]:
        file_format = format
        content = await imports.export_file(actor, school_id, kind, file_format)
        return Response(
            content=content,
            media_type=EXPORT_TYPES[file_format],
            headers={
                "Content-Disposition": f'attachment; filename="{kind}-{school_id}.{file_format}"'
            },
        )


CONTROLLERS = [
    ImportExportController,
    DelegateController,
    MovementController,
    ClassPeopleController,
    StudentController,
    GuardianController,
    ConsentController,
    StaffController,
    FamilyController,
]
