"""HTTP endpoints of the journal (/api/v1/journal) and the diary (/api/v1/diary)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Body, FromQuery, QueryParameter
from litestar.response import Response
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from backend.core.bounds import PathId, QueryId, RequiredQueryId
from backend.core.errors import ValidationFailed
from backend.core.http import ActorDep, FileForm, hot_get, requires
from backend.core.rights import Permission
from backend.core.storage import Storage
from backend.journal import catalog, diary, illness, schemas, services
from backend.journal.file_types import file_type
from backend.journal.services import MAX_ATTACHMENT_BYTES
from backend.journal.sync import sync_lesson
from backend.journal.weeks import DiaryWeeks
from backend.schools.people import movement

DiaryWeeksDep = NamedDependency[DiaryWeeks]
StorageDep = NamedDependency[Storage]

P = Permission
JOURNAL_READERS = requires(P.JOURNAL_READ, P.JOURNAL_WRITE, P.JOURNAL_MANAGE)
JOURNAL_WRITERS = requires(P.JOURNAL_WRITE, P.JOURNAL_MANAGE)
DIARY_READERS = requires(P.DIARY_READ)


def provide_diary_weeks(state: State) -> DiaryWeeks:
    return state.diary_weeks


def provide_storage(state: State) -> Storage:
    return state.storage


class JournalController(Controller):
    path = "/api/v1/journal"
    tags = ["Журнал"]
    dependencies = {
        "diary_weeks": Provide(provide_diary_weeks, sync_to_thread=False),
        "storage": Provide(provide_storage, sync_to_thread=False),
    }

    @get("/lessons/{lesson_id:int}", guards=[JOURNAL_READERS], summary="Урок в журнале")
    async def lesson(self, actor: ActorDep, lesson_id: PathId) -> schemas.LessonSheet:
        return await services.lesson_sheet(actor, lesson_id)

    @post(
        "/lessons/{lesson_id:int}/sync",
        guards=[JOURNAL_WRITERS],
        status_code=HTTP_200_OK,
        summary="Сохранить урок целиком (быстрое выставление, синхронизация планшета)",
    )
    async def sync(
        self,
        actor: ActorDep,
        diary_weeks: DiaryWeeksDep,
        lesson_id: PathId,
        data: Annotated[schemas.SyncRequest, Body()],
    ) -> schemas.SyncResponse:
        return await sync_lesson(actor, lesson_id, data, diary_weeks)

    @post(
        "/lessons/{lesson_id:int}/attachments",
        guards=[JOURNAL_WRITERS],
        # The file's own limit (MAX_ATTACHMENT_BYTES) answers in words; the body may carry
        # the form around it.
        request_max_body_size=MAX_ATTACHMENT_BYTES + 64 * 1024,
        status_code=HTTP_201_CREATED,
        summary="Загрузить файл к домашнему заданию",
    )
    async def upload(
        self,
        actor: ActorDep,
        storage: StorageDep,
        lesson_id: PathId,
        data: Annotated[FileForm, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> schemas.AttachmentOut:
        content = await data.data.read()
        return await services.upload_attachment(
            actor, lesson_id, data.data.filename or "file", content, storage
        )

    @get(
        "/attachments/{attachment_id:int}",
        guards=[requires(P.JOURNAL_READ, P.JOURNAL_WRITE, P.JOURNAL_MANAGE, P.DIARY_READ)],
        summary="Скачать файл домашнего задания",
        responses={
            200: ResponseSpec(
                data_container=bytes,
                media_type="application/octet-stream",
                description="Файл (тип по имени файла)",
                generate_examples=False,
            )
        },
    )
    async def download(
        self, actor: ActorDep, storage: StorageDep, attachment_id: PathId
    ) -> Response[bytes]:
        row, content = await services.download_attachment(actor, attachment_id, storage)
        return Response(
            content,
            # From the name (files stored before the list of types kept the uploader's claim).
            media_type=file_type(row["file_name"]) or "application/octet-stream",
            headers={
                "Content-Disposition": _disposition(row["file_name"]),
                "X-Content-Type-Options": "nosniff",
            },
        )

    @get(
        "/marks/{mark_id:int}/history",
        guards=[requires(P.JOURNAL_READ, P.JOURNAL_WRITE, P.JOURNAL_MANAGE, P.DIARY_READ)],
        summary="История отметки: кто, когда, что было, что стало",
    )
    async def mark_history(self, actor: ActorDep, mark_id: PathId) -> schemas.MarkHistory:
        return await services.mark_history(actor, mark_id)

    @get(
        "/classes/{class_id:int}/final-marks",
        guards=[JOURNAL_READERS],
        summary="Итоговые отметки класса по предмету с предложенными значениями",
    )
    async def final_marks(
        self,
        actor: ActorDep,
        class_id: PathId,
        subject_id: RequiredQueryId,
        kind: FromQuery[Literal["period", "year", "exam", "final"]],
        study_period_id: QueryId = None,
    ) -> schemas.FinalMarkSheet:
        return await services.final_mark_sheet(actor, class_id, subject_id, kind, study_period_id)

    @post(
        "/classes/{class_id:int}/final-marks",
        guards=[JOURNAL_WRITERS],
        status_code=HTTP_200_OK,
        summary="Подтвердить или изменить итоговую отметку",
    )
    async def set_final_mark(
        self,
        actor: ActorDep,
        diary_weeks: DiaryWeeksDep,
        class_id: PathId,
        data: Annotated[schemas.FinalMarkIn, Body()],
    ) -> schemas.FinalMarkOut:
        return await services.set_final_mark(actor, class_id, data, diary_weeks)


class MarkingCatalogController(Controller):
    path = "/api/v1/journal/schools/{school_id:int}"
    tags = ["Журнал"]

    @get(
        "/marking",
        guards=[JOURNAL_READERS],
        summary="Виды работ (с весами) и шкалы отметок школы, с названиями",
    )
    async def marking(self, actor: ActorDep, school_id: PathId) -> schemas.MarkingCatalog:
        return msgspec.convert(
            await catalog.marking_catalog(actor, school_id), schemas.MarkingCatalog, strict=False
        )


def _disposition(name: str) -> str:
    from urllib.parse import quote

    return f"attachment; filename*=UTF-8''{quote(name)}"


async def _day(value: str | None, student_id: int) -> date:
    """The day asked for, or today on the clock of the pupil's school."""
    if not value:
        return await movement.pupil_today(student_id)
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationFailed(key="journal.week_date_invalid") from exc


class DiaryController(Controller):
    path = "/api/v1/diary/students/{student_id:int}"
    tags = ["Дневник"]
    dependencies = {"diary_weeks": Provide(provide_diary_weeks, sync_to_thread=False)}

    @hot_get(
        "/week",
        guards=[DIARY_READERS],
        summary="Неделя дневника (ETag: неизменённая неделя отвечает 304)",
        cache_control=None,
        # The body is the stored projection's bytes, sent as they are (decision 0301); the
        # document still says what they hold.
        responses={
            200: ResponseSpec(
                data_container=schemas.DiaryWeek,
                description="Неделя дневника",
                generate_examples=False,
            )
        },
    )
    async def week(
        self,
        request: Request[Any, Any, Any],
        actor: ActorDep,
        student_id: PathId,
        day: Annotated[
            str | None, QueryParameter(name="date", description="Любой день недели")
        ] = None,
    ) -> Response[bytes]:
        # The hottest read of the API: the weeks come from the app's state rather than as a
        # second dependency (Litestar resolves two dependencies in a task group of their own).
        weeks: DiaryWeeks = request.app.state.diary_weeks
        answer = await diary.read_week(
            actor,
            student_id,
            await _day(day, student_id),
            weeks,
            request.headers.get("if-none-match"),
        )
        headers = {"ETag": answer.etag, "Cache-Control": "private, no-cache"}
        if answer.status == 304:
            return Response(b"", status_code=304, headers=headers)
        return Response(answer.body, media_type="application/json", headers=headers)

    @get("/marks", guards=[DIARY_READERS], summary="Отметки по предметам со средними баллами")
    async def marks(
        self,
        actor: ActorDep,
        student_id: PathId,
        period_id: QueryId = None,
        date_from: FromQuery[date | None] = None,
        date_to: FromQuery[date | None] = None,
    ) -> schemas.DiaryMarks:
        found = await diary.marks_by_subject(actor, student_id, period_id, date_from, date_to)
        return msgspec.convert(found, schemas.DiaryMarks, strict=False)

    @get("/news", guards=[DIARY_READERS], summary="Новое с последнего просмотра")
    async def news(self, actor: ActorDep, student_id: PathId) -> schemas.DiaryNews:
        return msgspec.convert(await diary.news(actor, student_id), schemas.DiaryNews, strict=False)

    @post(
        "/seen",
        guards=[DIARY_READERS],
        status_code=HTTP_200_OK,
        summary="Отметить всё как просмотренное",
    )
    async def seen(self, actor: ActorDep, student_id: PathId) -> schemas.Seen:
        await diary.mark_seen(actor, student_id)
        return schemas.Seen(ok=True)

    @post(
        "/homework/{homework_id:int}/done",
        guards=[DIARY_READERS],
        status_code=HTTP_200_OK,
        summary="Отметить домашнее задание выполненным (ученик)",
    )
    async def homework_done(
        self,
        actor: ActorDep,
        diary_weeks: DiaryWeeksDep,
        student_id: PathId,
        homework_id: PathId,
        done: FromQuery[bool] = True,
    ) -> schemas.Done:
        await diary.tick_homework(actor, student_id, homework_id, done, diary_weeks)
        return schemas.Done(homework_id=homework_id, done=done)

    @post(
        "/illness",
        guards=[DIARY_READERS],
        status_code=HTTP_201_CREATED,
        summary="Сообщить, что ребёнок болеет (родитель)",
    )
    async def report_illness(
        self,
        actor: ActorDep,
        student_id: PathId,
        data: Annotated[schemas.IllnessReportIn, Body()],
    ) -> schemas.IllnessReportOut:
        row = await illness.report_illness(
            actor, student_id, data.date_from, data.date_to, data.comment
        )
        return schemas.IllnessReportOut(**row)

    @get("/illness", guards=[DIARY_READERS], summary="Сообщения родителей о болезни ребёнка")
    async def illness_reports(
        self, actor: ActorDep, student_id: PathId
    ) -> list[schemas.IllnessReportOut]:
        rows = await illness.illness_reports(actor, student_id)
        return [schemas.IllnessReportOut(**r) for r in rows]
