"""HTTP endpoints of school structure: tenancy, settings, the year, classes, groups, subjects,
rooms, curriculum, teaching assignments and bells. Thin: parse, call `structure`, return."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar import Controller, delete, get, patch, post, put
from litestar.di import Provide
from litestar.params import Body, FromQuery
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from backend.accounts.deps import AccountsDep, provide_accounts
from backend.core.http import ActorDep, Limit, Offset, Page, PrincipalDep
from backend.core.rights import Permission
from backend.schools import services as schools
from backend.schools.http import (
    MANAGE,
    READ,
    PathId,
    QueryId,
    RequiredQueryId,
    ShiftPath,
    out,
    out_list,
)
from backend.schools.structure import schemas as s
from backend.schools.structure import services as structure


class TenancyController(Controller):
    path = "/api/v1"
    tags = ["Регионы и школы"]

    @post("/regions", guards=MANAGE, summary="Создать регион")
    async def create_region(
        self, actor: ActorDep, data: Annotated[s.RegionCreate, Body()]
    ) -> s.Region:
        return out(s.Region, await structure.create_region(actor, data))

    @post("/regions/{region_id:int}/municipalities", guards=MANAGE, summary="Создать муниципалитет")
    async def create_municipality(
        self, actor: ActorDep, region_id: PathId, data: Annotated[s.MunicipalityCreate, Body()]
    ) -> s.Municipality:
        return out(s.Municipality, await structure.create_municipality(actor, region_id, data))

    @post("/municipalities/{municipality_id:int}/schools", guards=MANAGE, summary="Создать школу")
    async def create_school(
        self, actor: ActorDep, municipality_id: PathId, data: Annotated[s.SchoolCreate, Body()]
    ) -> s.School:
        return out(s.School, await structure.create_school(actor, municipality_id, data))

    @get("/schools", guards=READ, summary="Школы, доступные мне")
    async def list_schools(
        self, actor: ActorDep, principal: PrincipalDep, limit: Limit = 50, offset: Offset = 0
    ) -> Page[s.School]:
        ids = await schools.schools_in_scope(principal, Permission.STRUCTURE_READ)
        rows, total = await structure.list_schools(actor, ids, limit=limit, offset=offset)
        return Page(items=out_list(s.School, rows), total=total, limit=limit, offset=offset)

    @get("/schools/{school_id:int}", guards=READ, summary="Школа")
    async def get_school(self, actor: ActorDep, school_id: PathId) -> s.School:
        return out(s.School, await structure.get_school(actor, school_id))

    @get("/schools/{school_id:int}/settings", guards=READ, summary="Настройки школы")
    async def get_settings(self, actor: ActorDep, school_id: PathId) -> s.SchoolSettingsOut:
        return await structure.get_settings(actor, school_id)

    @patch("/schools/{school_id:int}/settings", guards=MANAGE, summary="Изменить настройки школы")
    async def update_settings(
        self,
        actor: ActorDep,
        school_id: PathId,
        data: Annotated[s.SchoolSettingsUpdate, Body()],
    ) -> s.SchoolSettingsOut:
        return await structure.update_settings(actor, school_id, data)


class YearController(Controller):
    path = "/api/v1/schools/{school_id:int}"
    tags = ["Учебный год"]

    @get("/years", guards=READ, summary="Учебные годы")
    async def list_years(self, actor: ActorDep, school_id: PathId) -> list[s.AcademicYear]:
        return out_list(s.AcademicYear, await structure.list_years(actor, school_id))

    @post("/years", guards=MANAGE, summary="Создать учебный год")
    async def create_year(
        self, actor: ActorDep, school_id: PathId, data: Annotated[s.AcademicYearCreate, Body()]
    ) -> s.AcademicYear:
        return out(s.AcademicYear, await structure.create_year(actor, school_id, data))

    @patch("/years/{year_id:int}", guards=MANAGE, summary="Изменить даты учебного года")
    async def update_year(
        self,
        actor: ActorDep,
        school_id: PathId,
        year_id: PathId,
        data: Annotated[s.AcademicYearUpdate, Body()],
    ) -> s.AcademicYear:
        return out(s.AcademicYear, await structure.update_year(actor, school_id, year_id, data))

    @get("/years/{year_id:int}/periods", guards=READ, summary="Учебные периоды")
    async def list_periods(
        self, actor: ActorDep, school_id: PathId, year_id: PathId
    ) -> list[s.StudyPeriod]:
        return out_list(s.StudyPeriod, await structure.list_periods(actor, school_id, year_id))

    @post("/years/{year_id:int}/periods", guards=MANAGE, summary="Создать учебный период")
    async def create_period(
        self,
        actor: ActorDep,
        school_id: PathId,
        year_id: PathId,
        data: Annotated[s.StudyPeriodCreate, Body()],
    ) -> s.StudyPeriod:
        return out(s.StudyPeriod, await structure.create_period(actor, school_id, year_id, data))

    @patch("/periods/{period_id:int}", guards=MANAGE, summary="Изменить учебный период")
    async def update_period(
        self,
        actor: ActorDep,
        school_id: PathId,
        period_id: PathId,
        data: Annotated[s.StudyPeriodUpdate, Body()],
    ) -> s.StudyPeriod:
        return out(s.StudyPeriod, await structure.update_period(actor, school_id, period_id, data))

    @post(
        "/periods/{period_id:int}/close",
        guards=MANAGE,
        status_code=HTTP_200_OK,
        summary="Закрыть период (отметки блокируются)",
    )
    async def close_period(
        self, actor: ActorDep, school_id: PathId, period_id: PathId
    ) -> s.StudyPeriod:
        return out(s.StudyPeriod, await structure.close_period(actor, school_id, period_id))

    @post(
        "/periods/{period_id:int}/reopen",
        guards=MANAGE,
        status_code=HTTP_200_OK,
        summary="Открыть закрытый период",
    )
    async def reopen_period(
        self, actor: ActorDep, school_id: PathId, period_id: PathId
    ) -> s.StudyPeriod:
        return out(s.StudyPeriod, await structure.reopen_period(actor, school_id, period_id))


_ACCOUNTS = {"accounts": Provide(provide_accounts, sync_to_thread=False)}


class StructureController(Controller):
    path = "/api/v1/schools/{school_id:int}"
    tags = ["Структура школы"]

    @get("/classes", guards=READ, summary="Классы")
    async def list_classes(
        self, actor: ActorDep, school_id: PathId, year_id: QueryId = None
    ) -> list[s.SchoolClass]:
        return out_list(s.SchoolClass, await structure.list_classes(actor, school_id, year_id))

    @post(
        "/classes",
        guards=MANAGE,
        summary="Создать класс",
        description="Классный руководитель (если указан и у него есть учётная запись) получает "
        "роль классного руководителя этого класса.",
        dependencies=_ACCOUNTS,
    )
    async def create_class(
        self,
        actor: ActorDep,
        accounts: AccountsDep,
        school_id: PathId,
        data: Annotated[s.SchoolClassCreate, Body()],
    ) -> s.SchoolClass:
        row = await structure.create_class(actor, school_id, data, accounts=accounts)
        return out(s.SchoolClass, row)

    @patch(
        "/classes/{class_id:int}",
        guards=MANAGE,
        summary="Изменить класс",
        description="Новый классный руководитель получает роль классного руководителя этого "
        "класса, прежний её теряет (его сеансы завершаются).",
        dependencies=_ACCOUNTS,
    )
    async def update_class(
        self,
        actor: ActorDep,
        accounts: AccountsDep,
        school_id: PathId,
        class_id: PathId,
        data: Annotated[s.SchoolClassUpdate, Body()],
    ) -> s.SchoolClass:
        row = await structure.update_class(actor, school_id, class_id, data, accounts=accounts)
        return out(s.SchoolClass, row)

    @get("/groups", guards=READ, summary="Группы")
    async def list_groups(
        self, actor: ActorDep, school_id: PathId, class_id: QueryId = None
    ) -> list[s.StudyGroup]:
        return out_list(s.StudyGroup, await structure.list_groups(actor, school_id, class_id))

    @post("/groups", guards=MANAGE, summary="Создать группу")
    async def create_group(
        self, actor: ActorDep, school_id: PathId, data: Annotated[s.StudyGroupCreate, Body()]
    ) -> s.StudyGroup:
        return out(s.StudyGroup, await structure.create_group(actor, school_id, data))

    @get("/groups/{group_id:int}/members", guards=READ, summary="Состав группы")
    async def group_members(
        self,
        actor: ActorDep,
        school_id: PathId,
        group_id: PathId,
        on: FromQuery[date | None] = None,
    ) -> list[s.GroupMember]:
        rows = await structure.group_members(actor, school_id, group_id, on)
        return out_list(s.GroupMember, rows)

    @post(
        "/groups/{group_id:int}/members",
        guards=MANAGE,
        status_code=HTTP_200_OK,
        summary="Включить обучающихся в группу с даты",
    )
    async def add_group_members(
        self,
        actor: ActorDep,
        school_id: PathId,
        group_id: PathId,
        data: Annotated[s.GroupMembersChange, Body()],
    ) -> list[s.GroupMember]:
        rows = await structure.add_group_members(actor, school_id, group_id, data)
        return out_list(s.GroupMember, rows)

    @post(
        "/groups/{group_id:int}/members/remove",
        guards=MANAGE,
        status_code=HTTP_200_OK,
        summary="Исключить обучающихся из группы с даты",
    )
    async def remove_group_members(
        self,
        actor: ActorDep,
        school_id: PathId,
        group_id: PathId,
        data: Annotated[s.GroupMembersChange, Body()],
    ) -> list[s.GroupMember]:
        rows = await structure.remove_group_members(actor, school_id, group_id, data)
        return out_list(s.GroupMember, rows)

    @get("/subjects", guards=READ, summary="Предметы")
    async def list_subjects(self, actor: ActorDep, school_id: PathId) -> list[s.Subject]:
        return out_list(s.Subject, await structure.list_subjects(actor, school_id))

    @post("/subjects", guards=MANAGE, summary="Добавить предмет")
    async def create_subject(
        self, actor: ActorDep, school_id: PathId, data: Annotated[s.SubjectCreate, Body()]
    ) -> s.Subject:
        return out(s.Subject, await structure.create_subject(actor, school_id, data))

    @patch("/subjects/{subject_id:int}", guards=MANAGE, summary="Изменить предмет")
    async def update_subject(
        self,
        actor: ActorDep,
        school_id: PathId,
        subject_id: PathId,
        data: Annotated[s.SubjectUpdate, Body()],
    ) -> s.Subject:
        return out(s.Subject, await structure.update_subject(actor, school_id, subject_id, data))

    @get("/rooms", guards=READ, summary="Кабинеты")
    async def list_rooms(self, actor: ActorDep, school_id: PathId) -> list[s.Room]:
        return out_list(s.Room, await structure.list_rooms(actor, school_id))

    @post("/rooms", guards=MANAGE, summary="Добавить кабинет")
    async def create_room(
        self, actor: ActorDep, school_id: PathId, data: Annotated[s.RoomCreate, Body()]
    ) -> s.Room:
        return out(s.Room, await structure.create_room(actor, school_id, data))

    @patch("/rooms/{room_id:int}", guards=MANAGE, summary="Изменить кабинет")
    async def update_room(
        self,
        actor: ActorDep,
        school_id: PathId,
        room_id: PathId,
        data: Annotated[s.RoomUpdate, Body()],
    ) -> s.Room:
        return out(s.Room, await structure.update_room(actor, school_id, room_id, data))

    @get("/curriculum", guards=READ, summary="Учебный план")
    async def list_curriculum(
        self, actor: ActorDep, school_id: PathId, year_id: RequiredQueryId
    ) -> list[s.CurriculumItem]:
        rows = await structure.list_curriculum(actor, school_id, year_id)
        return out_list(s.CurriculumItem, rows)

    @post("/curriculum", guards=MANAGE, summary="Добавить предмет в учебный план")
    async def create_curriculum_item(
        self,
        actor: ActorDep,
        school_id: PathId,
        data: Annotated[s.CurriculumItemCreate, Body()],
    ) -> s.CurriculumItem:
        row = await structure.create_curriculum_item(actor, school_id, data)
        return out(s.CurriculumItem, row)

    @delete("/curriculum/{item_id:int}", guards=MANAGE, summary="Убрать из учебного плана")
    async def delete_curriculum_item(
        self, actor: ActorDep, school_id: PathId, item_id: PathId
    ) -> None:
        await structure.delete_curriculum_item(actor, school_id, item_id)

    @get("/assignments", guards=READ, summary="Педагогическая нагрузка")
    async def list_assignments(
        self,
        actor: ActorDep,
        school_id: PathId,
        year_id: RequiredQueryId,
        teacher_id: QueryId = None,
    ) -> list[s.TeachingAssignment]:
        rows = await structure.list_assignments(actor, school_id, year_id, teacher_id)
        return out_list(s.TeachingAssignment, rows)

    @post("/assignments", guards=MANAGE, summary="Назначить нагрузку")
    async def create_assignment(
        self,
        actor: ActorDep,
        school_id: PathId,
        data: Annotated[s.TeachingAssignmentCreate, Body()],
    ) -> s.TeachingAssignment:
        row = await structure.create_assignment(actor, school_id, data)
        return out(s.TeachingAssignment, row)

    @delete("/assignments/{assignment_id:int}", guards=MANAGE, summary="Снять нагрузку")
    async def delete_assignment(
        self, actor: ActorDep, school_id: PathId, assignment_id: PathId
    ) -> None:
        await structure.delete_assignment(actor, school_id, assignment_id)

    @get("/bells", guards=READ, summary="Расписание звонков по сменам")
    async def bells(self, actor: ActorDep, school_id: PathId) -> list[s.BellSchedule]:
        return await structure.bell_schedules(actor, school_id)

    @put(
        "/bells/{shift:int}",
        guards=MANAGE,
        status_code=HTTP_200_OK,
        summary="Задать расписание звонков смены",
    )
    async def set_bells(
        self,
        actor: ActorDep,
        school_id: PathId,
        shift: ShiftPath,
        data: Annotated[s.BellScheduleSet, Body()],
    ) -> list[s.BellSchedule]:
        return await structure.set_bell_schedule(actor, school_id, shift, data)


STRUCTURE_CONTROLLERS = [
    TenancyController,
    YearController,
    StructureController,
]
__all__ = ["HTTP_201_CREATED", "STRUCTURE_CONTROLLERS"]
