"""HTTP endpoints of the timetable and lessons: entries, generation, and changes to one lesson."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar import Controller, delete, get, patch, post
from litestar.params import Body, FromQuery
from litestar.status_codes import HTTP_200_OK

from backend.core.http import ActorDep, Limit, Offset, Page, signed_in
from backend.schools.http import MANAGE, READ, PathId, QueryId, out, out_list
from backend.schools.structure import schemas as s
from backend.schools.timetable import services as timetable


class TimetableController(Controller):
    path = "/api/v1/schools/{school_id:int}"
    tags = ["Расписание и уроки"]

    @get("/timetable", guards=READ, summary="Расписание (шаблон недели), по страницам")
    async def list_entries(
        self,
        actor: ActorDep,
        school_id: PathId,
        on: FromQuery[date | None] = None,
        class_id: QueryId = None,
        teacher_id: QueryId = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> Page[s.TimetableEntry]:
        rows, total = await timetable.list_entries(
            actor,
            school_id,
            on=on,
            class_id=class_id,
            teacher_id=teacher_id,
            limit=limit,
            offset=offset,
        )
        return Page(items=out_list(s.TimetableEntry, rows), total=total, limit=limit, offset=offset)

    @post("/timetable", guards=MANAGE, summary="Добавить урок в расписание (с проверкой накладок)")
    async def create_entry(
        self, actor: ActorDep, school_id: PathId, data: Annotated[s.TimetableEntryCreate, Body()]
    ) -> s.TimetableEntry:
        rows = await timetable.create_entries(actor, school_id, [data])
        return out(s.TimetableEntry, rows[0])

    @post("/timetable/bulk", guards=MANAGE, summary="Добавить несколько уроков в расписание")
    async def create_entries(
        self,
        actor: ActorDep,
        school_id: PathId,
        data: Annotated[s.TimetableEntriesCreate, Body()],
    ) -> list[s.TimetableEntry]:
        rows = await timetable.create_entries(actor, school_id, data.entries)
        return out_list(s.TimetableEntry, rows)

    @patch("/timetable/{entry_id:int}", guards=MANAGE, summary="Изменить учителя, кабинет, срок")
    async def update_entry(
        self,
        actor: ActorDep,
        school_id: PathId,
        entry_id: PathId,
        data: Annotated[s.TimetableEntryUpdate, Body()],
    ) -> s.TimetableEntry:
        row = await timetable.update_entry(actor, school_id, entry_id, data)
        return out(s.TimetableEntry, row)

    @delete("/timetable/{entry_id:int}", guards=MANAGE, summary="Удалить запись расписания")
    async def delete_entry(self, actor: ActorDep, school_id: PathId, entry_id: PathId) -> None:
        await timetable.delete_entry(actor, school_id, entry_id)

    @post(
        "/lessons/generate",
        guards=MANAGE,
        status_code=HTTP_200_OK,
        summary="Сформировать уроки на период по расписанию (повторный запуск безопасен)",
    )
    async def generate(
        self, actor: ActorDep, school_id: PathId, data: Annotated[s.GenerateLessons, Body()]
    ) -> s.GenerationResult:
        return await timetable.generate_lessons(actor, school_id, data.date_from, data.date_to)

    @get("/lessons", guards=READ, summary="Уроки за период (не более 62 дней), по страницам")
    async def list_lessons(
        self,
        actor: ActorDep,
        school_id: PathId,
        date_from: FromQuery[date],
        date_to: FromQuery[date],
        class_id: QueryId = None,
        group_id: QueryId = None,
        teacher_id: QueryId = None,
        room_id: QueryId = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> Page[s.Lesson]:
        items, total = await timetable.list_lessons(
            actor,
            school_id,
            date_from,
            date_to,
            class_id=class_id,
            group_id=group_id,
            teacher_id=teacher_id,
            room_id=room_id,
            limit=limit,
            offset=offset,
        )
        return Page(items=items, total=total, limit=limit, offset=offset)

    @get("/lessons/{lesson_id:int}", guards=READ, summary="Урок")
    async def get_lesson(self, actor: ActorDep, school_id: PathId, lesson_id: PathId) -> s.Lesson:
        return await timetable.get_lesson(actor, school_id, lesson_id)

    @post(
        "/lessons/{lesson_id:int}/replacement",
        guards=MANAGE,
        status_code=HTTP_200_OK,
        summary="Замена учителя на одном уроке",
    )
    async def set_replacement(
        self,
        actor: ActorDep,
        school_id: PathId,
        lesson_id: PathId,
        data: Annotated[s.ReplacementSet, Body()],
    ) -> s.Lesson:
        return await timetable.set_replacement(actor, school_id, lesson_id, data)

    @post(
        "/lessons/{lesson_id:int}/room",
        guards=MANAGE,
        status_code=HTTP_200_OK,
        summary="Другой кабинет для одного урока",
    )
    async def change_room(
        self,
        actor: ActorDep,
        school_id: PathId,
        lesson_id: PathId,
        data: Annotated[s.RoomChange, Body()],
    ) -> s.Lesson:
        return await timetable.change_room(actor, school_id, lesson_id, data)

    @post(
        "/lessons/{lesson_id:int}/cancel",
        guards=MANAGE,
        status_code=HTTP_200_OK,
        summary="Отменить урок",
    )
    async def cancel(
        self,
        actor: ActorDep,
        school_id: PathId,
        lesson_id: PathId,
        data: Annotated[s.Cancellation, Body()],
    ) -> s.Lesson:
        return await timetable.cancel_lesson(actor, school_id, lesson_id, data)

    @post(
        "/lessons/{lesson_id:int}/restore",
        guards=MANAGE,
        status_code=HTTP_200_OK,
        summary="Вернуть отменённый урок",
        description="Урок, отменённый вручную или из-за каникул, снова становится уроком по "
        "расписанию, если его день не каникулы и место в расписании свободно.",
    )
    async def restore(
        self,
        actor: ActorDep,
        school_id: PathId,
        lesson_id: PathId,
        data: Annotated[s.Restoration, Body()],
    ) -> s.Lesson:
        return await timetable.restore_lesson(actor, school_id, lesson_id, data)

    @post(
        "/lessons/{lesson_id:int}/move",
        guards=MANAGE,
        status_code=HTTP_200_OK,
        summary="Перенести урок на другой день или урок",
    )
    async def move(
        self,
        actor: ActorDep,
        school_id: PathId,
        lesson_id: PathId,
        data: Annotated[s.LessonMove, Body()],
    ) -> s.MoveResult:
        return await timetable.move_lesson(actor, school_id, lesson_id, data)


class MyWorkController(Controller):
    """What a signed-in staff member needs to find their own work: their staff records and
    their lessons (as teacher or as replacement)."""

    path = "/api/v1/me"
    tags = ["Расписание и уроки"]

    @get("/staff", guards=[signed_in], summary="Мои записи сотрудника (по школам)")
    async def my_staff(self, actor: ActorDep) -> list[s.MyStaff]:
        return out_list(s.MyStaff, await timetable.my_staff(actor))

    @get("/lessons", guards=[signed_in], summary="Мои уроки за период (не более 62 дней)")
    async def my_lessons(
        self,
        actor: ActorDep,
        date_from: FromQuery[date],
        date_to: FromQuery[date],
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> Page[s.Lesson]:
        items, total = await timetable.my_lessons(actor, date_from, date_to, limit, offset)
        return Page(items=items, total=total, limit=limit, offset=offset)


class HolidayController(Controller):
    """Holidays of a year: creating one cancels the untouched lessons it covers."""

    path = "/api/v1/schools/{school_id:int}"
    tags = ["Учебный год"]

    @get("/years/{year_id:int}/holidays", guards=READ, summary="Каникулы и праздники")
    async def list_holidays(
        self, actor: ActorDep, school_id: PathId, year_id: PathId
    ) -> list[s.Holiday]:
        return out_list(s.Holiday, await timetable.list_holidays(actor, school_id, year_id))

    @post("/years/{year_id:int}/holidays", guards=MANAGE, summary="Добавить каникулы")
    async def create_holiday(
        self,
        actor: ActorDep,
        school_id: PathId,
        year_id: PathId,
        data: Annotated[s.HolidayCreate, Body()],
    ) -> s.Holiday:
        return out(s.Holiday, await timetable.create_holiday(actor, school_id, year_id, data))

    @delete("/holidays/{holiday_id:int}", guards=MANAGE, summary="Удалить каникулы")
    async def delete_holiday(self, actor: ActorDep, school_id: PathId, holiday_id: PathId) -> None:
        await timetable.delete_holiday(actor, school_id, holiday_id)


TIMETABLE_CONTROLLERS = [TimetableController, MyWorkController, HolidayController]
