"""HTTP endpoints of school meals (/api/v1/meals): pupils' accounts and the school's books."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post, put
from litestar.params import Body, FromPath, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from backend.core.http import ActorDep, requires
from backend.core.rights import Permission
from backend.meals import accounts
from backend.meals import schemas as s

P = Permission
ACCOUNT_READERS = requires(P.MEALS_ORDER, P.MEALS_MANAGE, P.MEALS_ACCOUNTS)
FAMILY = requires(P.MEALS_ORDER)
BOOKKEEPERS = requires(P.MEALS_ACCOUNTS)
MEALS_STAFF = requires(P.MEALS_MANAGE, P.MEALS_ACCOUNTS)

Limit = Annotated[int, QueryParameter(ge=1, le=500)]
Offset = Annotated[int, QueryParameter(ge=0, le=1_000_000)]


class MealAccountsController(Controller):
    path = "/api/v1/meals"
    tags = ["Питание: лицевые счета"]

    @get(
        "/pupils/{student_id:int}/account",
        guards=[ACCOUNT_READERS],
        summary="Лицевой счёт обучающегося: баланс, резерв, доступно",
    )
    async def account(self, actor: ActorDep, student_id: FromPath[int]) -> s.PupilAccountOut:
        return await accounts.get_account(actor, student_id)

    @put(
        "/pupils/{student_id:int}/account",
        guards=[FAMILY],
        summary="Порог уведомления о низком балансе",
    )
    async def set_threshold(
        self,
        actor: ActorDep,
        student_id: FromPath[int],
        data: Annotated[s.PupilAccountUpdate, Body()],
    ) -> s.PupilAccountOut:
        return await accounts.set_threshold(actor, student_id, data)

    @get(
        "/pupils/{student_id:int}/statement",
        guards=[ACCOUNT_READERS],
        summary="Выписка по лицевому счёту",
    )
    async def statement(
        self, actor: ActorDep, student_id: FromPath[int], limit: Limit = 100, offset: Offset = 0
    ) -> s.StatementOut:
        return await accounts.statement(actor, student_id, limit=limit, offset=offset)

    @post(
        "/pupils/{student_id:int}/cash-top-ups",
        guards=[BOOKKEEPERS],
        status_code=HTTP_201_CREATED,
        summary="Пополнение наличными в кассе школы",
    )
    async def cash_top_up(
        self, actor: ActorDep, student_id: FromPath[int], data: Annotated[s.CashTopUp, Body()]
    ) -> s.TransferOut:
        return await accounts.cash_top_up(actor, student_id, data)

    @post(
        "/transfers/{transfer_id:int}/refunds",
        guards=[BOOKKEEPERS],
        status_code=HTTP_201_CREATED,
        summary="Возврат неизрасходованных средств пополнения",
    )
    async def refund(
        self,
        actor: ActorDep,
        transfer_id: FromPath[int],
        data: Annotated[s.RefundRequest, Body()],
    ) -> s.TransferOut:
        return await accounts.refund(actor, transfer_id, data)

    @post(
        "/transfers/{transfer_id:int}/reversal",
        guards=[BOOKKEEPERS],
        status_code=HTTP_201_CREATED,
        summary="Исправление: сторнирующая проводка с причиной",
    )
    async def reverse(
        self,
        actor: ActorDep,
        transfer_id: FromPath[int],
        data: Annotated[s.CorrectionRequest, Body()],
    ) -> s.TransferOut:
        return await accounts.correct(actor, transfer_id, data)

    @get(
        "/schools/{school_id:int}/settings",
        guards=[MEALS_STAFF],
        summary="Правила питания школы",
    )
    async def settings(self, actor: ActorDep, school_id: FromPath[int]) -> s.MealSettings:
        return await accounts.get_settings(actor, school_id)

    @put(
        "/schools/{school_id:int}/settings",
        guards=[BOOKKEEPERS],
        status_code=HTTP_200_OK,
        summary="Изменить правила питания школы (допустимый минус, горизонт заказа)",
    )
    async def update_settings(
        self,
        actor: ActorDep,
        school_id: FromPath[int],
        data: Annotated[s.MealSettingsUpdate, Body()],
    ) -> s.MealSettings:
        return await accounts.update_settings(actor, school_id, data)

    @get(
        "/schools/{school_id:int}/books-check",
        guards=[BOOKKEEPERS],
        summary="Сверка книги проводок школы: дебет равен кредиту, остатки равны проводкам",
    )
    async def books_check(self, actor: ActorDep, school_id: FromPath[int]) -> s.BookCheckOut:
        return await accounts.check_books(actor, school_id)


CONTROLLERS = [MealAccountsController]
