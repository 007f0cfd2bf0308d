"""HTTP endpoints of access control: /api/v1/access (points, cards, gateways and rules for
school staff; the signed ingest for gateways; presence and logs for security and families)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, patch, post, put
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.params import Body, FromQuery, Parameter, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from litestar.types import ASGIApp, Receive, Scope, Send

from backend.access import absence, ingest, presence, registry
from backend.access import schemas as s
from backend.core.bounds import QueryId
from backend.core.http import PUBLIC, ActorDep, Limit, Offset, Page, requires
from backend.core.rights import Permission

PathId = Annotated[int, Parameter(gt=0, le=2_147_483_647)]
MANAGE = [requires(Permission.ACCESS_MANAGE)]
READ = [requires(Permission.ACCESS_READ, Permission.ACCESS_MANAGE)]
GATEWAY_STATE = "access_gateway"


def _as(kind: type[Any], rows: list[dict[str, Any]]) -> list[Any]:
    return [msgspec.convert(r, kind, from_attributes=False, strict=False) for r in rows]


def _one(kind: type[Any], row: dict[str, Any]) -> Any:
    return msgspec.convert(row, kind, from_attributes=False, strict=False)


def stamp_arrival(app: ASGIApp) -> ASGIApp:
    """Middleware of the ingest: the moment the request reached the route, before its body is
    read or signature checked; the skew sample is measured against it (decision 0908)."""

    async def stamped(scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("state", {})[ingest.ARRIVED_STATE] = datetime.now(UTC)
        await app(scope, receive, send)

    return stamped


async def gateway_signed(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Guard of the ingest: the body is signed by an active gateway's key (401 otherwise).
    Runs before the body is parsed, so an unsigned request is refused unread."""
    request: Request[Any, Any, Any] = connection  # type: ignore[assignment]
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    gateway = await ingest.verify(headers, body)
    connection.scope.setdefault("state", {})[GATEWAY_STATE] = gateway


class AccessController(Controller):
    path = "/api/v1/access"
    tags = ["Проходы"]

    # ---- access points -----------------------------------------------------------------------

    @post(
        "/schools/{school_id:int}/points",
        guards=MANAGE,
        status_code=HTTP_201_CREATED,
        summary="Добавить точку прохода (турникет)",
    )
    async def create_point(
        self, actor: ActorDep, school_id: PathId, data: Annotated[s.AccessPointCreate, Body()]
    ) -> s.AccessPoint:
        row = await registry.create_point(
            actor, school_id, name=data.name, direction=data.direction, lane=data.lane
        )
        return _one(s.AccessPoint, row)

    @get("/schools/{school_id:int}/points", guards=READ, summary="Точки прохода школы")
    async def list_points(self, actor: ActorDep, school_id: PathId) -> list[s.AccessPoint]:
        return _as(s.AccessPoint, await registry.list_points(actor, school_id))

    @patch("/points/{point_id:int}", guards=MANAGE, summary="Изменить точку прохода")
    async def update_point(
        self, actor: ActorDep, point_id: PathId, data: Annotated[s.AccessPointUpdate, Body()]
    ) -> s.AccessPoint:
        changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
        return _one(s.AccessPoint, await registry.update_point(actor, point_id, changes))

    # ---- cards -------------------------------------------------------------------------------

    @post(
        "/schools/{school_id:int}/cards",
        guards=MANAGE,
        status_code=HTTP_201_CREATED,
        summary="Выдать карту, браслет или брелок",
    )
    async def issue_card(
        self, actor: ActorDep, school_id: PathId, data: Annotated[s.AccessCardCreate, Body()]
    ) -> s.AccessCard:
        row = await registry.issue_card(
            actor,
            school_id,
            raw_value=data.raw_value,
            card_format=data.card_format,
            holder_kind=data.holder_kind,
            holder_id=data.holder_id,
        )
        return _one(s.AccessCard, row)

    @get("/schools/{school_id:int}/cards", guards=MANAGE, summary="Карты школы")
    async def list_cards(
        self,
        actor: ActorDep,
        school_id: PathId,
        limit: Limit = 50,
        offset: Offset = 0,
        holder_kind: Annotated[str | None, QueryParameter(max_length=8)] = None,
        holder_id: QueryId = None,
    ) -> Page[s.AccessCard]:
        rows, total = await registry.list_cards(
            actor,
            school_id,
            holder_kind=holder_kind,
            holder_id=holder_id,
            limit=limit,
            offset=offset,
        )
        return Page(_as(s.AccessCard, rows), total, limit, offset)

    @post(
        "/cards/{card_id:int}/block",
        guards=MANAGE,
        status_code=HTTP_200_OK,
        summary="Заблокировать карту (утеряна, изъята)",
    )
    async def block_card(
        self, actor: ActorDep, card_id: PathId, data: Annotated[s.AccessCardBlock, Body()]
    ) -> s.AccessCard:
        return _one(s.AccessCard, await registry.block_card(actor, card_id, data.reason))

    @post(
        "/cards/{card_id:int}/replace",
        guards=MANAGE,
        status_code=HTTP_201_CREATED,
        summary="Заменить карту новой (старая блокируется)",
    )
    async def replace_card(
        self, actor: ActorDep, card_id: PathId, data: Annotated[s.AccessCardReplace, Body()]
    ) -> s.AccessCard:
        row = await registry.replace_card(
            actor, card_id, raw_value=data.raw_value, card_format=data.card_format
        )
        return _one(s.AccessCard, row)

    # ---- gateways ----------------------------------------------------------------------------

    @post(
        "/schools/{school_id:int}/gateways",
        guards=MANAGE,
        status_code=HTTP_201_CREATED,
        summary="Зарегистрировать шлюз (ключ подписи показывается один раз)",
    )
    async def create_gateway(
        self, actor: ActorDep, school_id: PathId, data: Annotated[s.AccessGatewayCreate, Body()]
    ) -> s.AccessGatewayWithKey:
        row = await registry.create_gateway(actor, school_id, name=data.name)
        return _one(s.AccessGatewayWithKey, row)

    @get("/schools/{school_id:int}/gateways", guards=MANAGE, summary="Шлюзы школы")
    async def list_gateways(self, actor: ActorDep, school_id: PathId) -> list[s.AccessGateway]:
        return _as(s.AccessGateway, await registry.list_gateways(actor, school_id))

    @post(
        "/gateways/{gateway_id:int}/rotate-key",
        guards=MANAGE,
        status_code=HTTP_200_OK,
        summary="Сменить ключ подписи шлюза (старый действует ещё сутки)",
    )
    async def rotate_key(self, actor: ActorDep, gateway_id: PathId) -> s.AccessGatewayWithKey:
        return _one(s.AccessGatewayWithKey, await registry.rotate_key(actor, gateway_id))

    # ---- the school's rules ------------------------------------------------------------------

    @get("/schools/{school_id:int}/settings", guards=READ, summary="Настройки проходов школы")
    async def get_settings(self, actor: ActorDep, school_id: PathId) -> s.AccessSettings:
        return _one(s.AccessSettings, await registry.get_settings(actor, school_id))

    @put("/schools/{school_id:int}/settings", guards=MANAGE, summary="Изменить настройки проходов")
    async def update_settings(
        self, actor: ActorDep, school_id: PathId, data: Annotated[s.AccessSettingsUpdate, Body()]
    ) -> s.AccessSettings:
        changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
        return _one(s.AccessSettings, await registry.update_settings(actor, school_id, changes))

    # ---- ingest ------------------------------------------------------------------------------

    @post(
        "/ingest",
        opt=PUBLIC,
        guards=[gateway_signed],
        middleware=[stamp_arrival],
        status_code=HTTP_200_OK,
        summary="Пакет проходов от шлюза (подпись HMAC-SHA256)",
        description=(
            "Заголовки X-Parta-Gateway (номер шлюза), X-Parta-Timestamp (время Unix, секунды) и "
            "X-Parta-Signature: sha256=<HMAC-SHA256 ключа шлюза над «<время>.» + тело запроса>. "
            "Время подписи должно отличаться от времени сервера не более чем на 5 минут. "
            "Повторно присланные проходы (тот же device_event_id) не сохраняются второй раз."
        ),
    )
    async def ingest_batch(
        self, request: Request[Any, Any, Any], data: Annotated[s.IngestBatch, Body()]
    ) -> s.IngestResult:
        state = request.scope["state"]
        result = await ingest.ingest(
            state[GATEWAY_STATE], data, arrived_at=state.get(ingest.ARRIVED_STATE)
        )
        return s.IngestResult(**{f: getattr(result, f) for f in s.IngestResult.__struct_fields__})

    # ---- presence and logs -------------------------------------------------------------------

    @get(
        "/schools/{school_id:int}/presence",
        guards=READ,
        summary="Кто сейчас в здании школы",
    )
    async def presence_now(self, actor: ActorDep, school_id: PathId) -> s.Presence:
        return _one(s.Presence, await presence.inside_now(actor, school_id))

    @get("/schools/{school_id:int}/log", guards=READ, summary="Журнал проходов школы за день")
    async def school_log(
        self,
        actor: ActorDep,
        school_id: PathId,
        limit: Limit = 100,
        offset: Offset = 0,
        day: Annotated[date | None, QueryParameter(name="date")] = None,
        problems_only: FromQuery[bool] = False,
    ) -> s.SchoolLog:
        rows, total, shown = await presence.school_log(
            actor, school_id, day, problems_only=problems_only, limit=limit, offset=offset
        )
        return s.SchoolLog(shown, _as(s.SchoolPass, rows), total, limit, offset)

    @get(
        "/students/{student_id:int}/entries",
        guards=READ,
        summary="Проходы ученика: первый вход и последний выход по дням",
    )
    async def student_entries(
        self,
        actor: ActorDep,
        student_id: PathId,
        date_from: FromQuery[date],
        date_to: FromQuery[date],
    ) -> s.StudentEntries:
        found = await presence.student_entries(actor, student_id, date_from, date_to)
        return _one(s.StudentEntries, found)

    @get(
        "/classes/{class_id:int}/absent-inside",
        guards=[
            requires(
                Permission.ACCESS_READ,
                Permission.ACCESS_MANAGE,
                Permission.JOURNAL_MANAGE,
                Permission.JOURNAL_WRITE,  # a class teacher; the service checks the class
            )
        ],
        summary="Ученики класса, отмеченные отсутствующими, но находящиеся в здании",
    )
    async def class_absent_inside(
        self,
        actor: ActorDep,
        class_id: PathId,
        date: FromQuery[date | None] = None,  # named as sent, so a refusal names the field
    ) -> s.ClassAbsentInside:
        found = await absence.class_absent_inside(actor, class_id, date)
        return s.ClassAbsentInside(
            found["class_id"], found["date"], _as(s.AbsentInside, found["items"])
        )


CONTROLLERS = [AccessController]
