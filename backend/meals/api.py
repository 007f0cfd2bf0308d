"""HTTP endpoints of school meals (/api/v1/meals): pupils' accounts and the school's books."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar import Controller, Response, get, post, put
from litestar.params import Body, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from backend.core.bounds import PathId
from backend.core.files_openapi import PDF, XLSX, answers_in
from backend.core.http import ActorDep, requires
from backend.core.rights import Permission
from backend.meals import (
    accounts,
    benefits,
    buffet,
    counter,
    menus,
    orders,
    reports,
    requisitions,
    standing,
    statements,
)
from backend.meals import schemas as s
from backend.meals.payments_api import PaymentReturnController, PaymentsController
from backend.meals.schemas import MealKind

P = Permission
ACCOUNT_READERS = requires(P.MEALS_ORDER, P.MEALS_MANAGE, P.MEALS_ACCOUNTS)
FAMILY = requires(P.MEALS_ORDER)
BOOKKEEPERS = requires(P.MEALS_ACCOUNTS)
MEALS_STAFF = requires(P.MEALS_MANAGE, P.MEALS_ACCOUNTS)
MENU_MAKERS = requires(P.MEALS_MANAGE)
PUPIL_MENU_READERS = requires(P.MEALS_ORDER, P.MEALS_MANAGE)

Limit = Annotated[int, QueryParameter(ge=1, le=500)]
Offset = Annotated[int, QueryParameter(ge=0, le=1_000_000)]
MenuDate = Annotated[date, QueryParameter(name="date")]
DateFrom = Annotated[date, QueryParameter(name="date_from")]
DateTo = Annotated[date, QueryParameter(name="date_to")]
CounterKind = Annotated[MealKind, QueryParameter(name="meal_kind")]


class MealAccountsController(Controller):
    path = "/api/v1/meals"
    tags = ["Питание: лицевые счета"]

    @get(
        "/pupils/{student_id:int}/account",
        guards=[ACCOUNT_READERS],
        summary="Лицевой счёт обучающегося: баланс, резерв, доступно",
    )
    async def account(self, actor: ActorDep, student_id: PathId) -> s.PupilAccountOut:
        return await accounts.get_account(actor, student_id)

    @put(
        "/pupils/{student_id:int}/account",
        guards=[FAMILY],
        summary="Порог уведомления о низком балансе",
    )
    async def set_threshold(
        self,
        actor: ActorDep,
        student_id: PathId,
        data: Annotated[s.PupilAccountUpdate, Body()],
    ) -> s.PupilAccountOut:
        return await accounts.set_threshold(actor, student_id, data)

    @get(
        "/pupils/{student_id:int}/statement",
        guards=[ACCOUNT_READERS],
        summary="Выписка по лицевому счёту",
    )
    async def statement(
        self, actor: ActorDep, student_id: PathId, limit: Limit = 100, offset: Offset = 0
    ) -> s.StatementOut:
        return await accounts.statement(actor, student_id, limit=limit, offset=offset)

    @get(
        "/pupils/{student_id:int}/statement/file",
        guards=[ACCOUNT_READERS],
        summary="Выписка по лицевому счёту файлом: XLSX или PDF",
        media_type="application/octet-stream",
        operation_class=answers_in(XLSX, PDF),
    )
    async def statement_file(
        self,
        actor: ActorDep,
        student_id: PathId,
        file_format: Annotated[statements.FileFormat, QueryParameter(name="format")] = "xlsx",
    ) -> Response[bytes]:
        content, media, name = await statements.statement_file(actor, student_id, file_format)
        return Response(
            content,
            media_type=media,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @post(
        "/pupils/{student_id:int}/cash-top-ups",
        guards=[BOOKKEEPERS],
        status_code=HTTP_201_CREATED,
        summary="Пополнение наличными в кассе школы",
    )
    async def cash_top_up(
        self, actor: ActorDep, student_id: PathId, data: Annotated[s.CashTopUp, Body()]
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
        transfer_id: PathId,
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
        transfer_id: PathId,
        data: Annotated[s.CorrectionRequest, Body()],
    ) -> s.TransferOut:
        return await accounts.correct(actor, transfer_id, data)

    @get(
        "/schools/{school_id:int}/settings",
        guards=[MEALS_STAFF],
        summary="Правила питания школы",
    )
    async def settings(self, actor: ActorDep, school_id: PathId) -> s.MealSettings:
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
        school_id: PathId,
        data: Annotated[s.MealSettingsUpdate, Body()],
    ) -> s.MealSettings:
        return await accounts.update_settings(actor, school_id, data)

    @get(
        "/schools/{school_id:int}/books-check",
        guards=[BOOKKEEPERS],
        summary="Сверка книги проводок школы: дебет равен кредиту, остатки равны проводкам",
    )
    async def books_check(self, actor: ActorDep, school_id: PathId) -> s.BookCheckOut:
        return await accounts.check_books(actor, school_id)


class MenusController(Controller):
    path = "/api/v1/meals"
    tags = ["Питание: меню"]

    @post(
        "/schools/{school_id:int}/caterers",
        guards=[MENU_MAKERS],
        status_code=HTTP_201_CREATED,
        summary="Организатор питания школы",
    )
    async def create_caterer(
        self, actor: ActorDep, school_id: PathId, data: Annotated[s.CatererCreate, Body()]
    ) -> s.CatererOut:
        return await menus.create_caterer(actor, school_id, data)

    @post(
        "/caterers/{caterer_id:int}/dishes",
        guards=[MENU_MAKERS],
        status_code=HTTP_201_CREATED,
        summary="Блюдо: состав, аллергены, выход, КБЖУ",
    )
    async def create_dish(
        self, actor: ActorDep, caterer_id: PathId, data: Annotated[s.DishCreate, Body()]
    ) -> s.DishOut:
        return await menus.create_dish(actor, caterer_id, data)

    @get("/caterers/{caterer_id:int}/dishes", guards=[MENU_MAKERS], summary="Блюда организатора")
    async def dishes(self, actor: ActorDep, caterer_id: PathId) -> list[s.DishOut]:
        return await menus.list_dishes(actor, caterer_id)

    @post(
        "/schools/{school_id:int}/meal-sets",
        guards=[MENU_MAKERS],
        status_code=HTTP_201_CREATED,
        summary="Комплекс: блюда, приём пищи, цена, параллели",
    )
    async def create_meal_set(
        self, actor: ActorDep, school_id: PathId, data: Annotated[s.MealSetCreate, Body()]
    ) -> s.MealSetOut:
        return await menus.create_meal_set(actor, school_id, data)

    @get("/schools/{school_id:int}/meal-sets", guards=[MEALS_STAFF], summary="Комплексы школы")
    async def meal_sets(self, actor: ActorDep, school_id: PathId) -> list[s.MealSetOut]:
        return await menus.list_meal_sets(actor, school_id)

    @put(
        "/schools/{school_id:int}/plans/{class_id:int}",
        guards=[MENU_MAKERS],
        summary="Режим питания класса: приёмы пищи и дни недели",
    )
    async def set_plan(
        self,
        actor: ActorDep,
        school_id: PathId,
        class_id: PathId,
        data: Annotated[s.MealPlanUpdate, Body()],
    ) -> s.MealPlanOut:
        return await menus.set_plan(actor, school_id, class_id, data)

    @put(
        "/schools/{school_id:int}/menu-cycle",
        guards=[MENU_MAKERS],
        summary="Цикличное двухнедельное меню школы",
    )
    async def set_cycle(
        self,
        actor: ActorDep,
        school_id: PathId,
        data: Annotated[s.MenuCycleUpdate, Body()],
    ) -> s.MenuCycleOut:
        return await menus.set_cycle(actor, school_id, data)

    @get(
        "/pupils/{student_id:int}/menu",
        guards=[PUPIL_MENU_READERS],
        summary="Меню дня для обучающегося (с отметкой комплексов с его аллергенами)",
    )
    async def pupil_menu(
        self, actor: ActorDep, student_id: PathId, day: MenuDate
    ) -> s.PupilMenuOut:
        return await menus.pupil_menu(actor, student_id, day)

    @get(
        "/pupils/{student_id:int}/diet",
        guards=[PUPIL_MENU_READERS],
        summary="Аллергены и диетическое меню обучающегося",
    )
    async def diet(self, actor: ActorDep, student_id: PathId) -> s.PupilDietOut:
        return await menus.get_diet(actor, student_id)

    @put(
        "/pupils/{student_id:int}/diet",
        guards=[PUPIL_MENU_READERS],
        summary="Записать аллергены и диетическое меню обучающегося",
    )
    async def set_diet(
        self,
        actor: ActorDep,
        student_id: PathId,
        data: Annotated[s.PupilDietUpdate, Body()],
    ) -> s.PupilDietOut:
        return await menus.set_diet(actor, student_id, data)


class OrdersController(Controller):
    path = "/api/v1/meals"
    tags = ["Питание: заказы"]

    @post(
        "/pupils/{student_id:int}/orders",
        guards=[FAMILY],
        status_code=HTTP_201_CREATED,
        summary="Заказать комплекс на день (до отсечки)",
    )
    async def place(
        self,
        actor: ActorDep,
        student_id: PathId,
        data: Annotated[s.MealOrderCreate, Body()],
    ) -> s.MealOrderOut:
        return await orders.place_order(actor, student_id, data)

    @get(
        "/pupils/{student_id:int}/orders",
        guards=[PUPIL_MENU_READERS],
        summary="Заказы обучающегося за период",
    )
    async def list_orders(
        self, actor: ActorDep, student_id: PathId, date_from: DateFrom, date_to: DateTo
    ) -> list[s.MealOrderOut]:
        return await orders.list_orders(actor, student_id, date_from, date_to)

    @post(
        "/orders/{order_id:int}/cancel",
        guards=[FAMILY],
        status_code=HTTP_200_OK,
        summary="Отменить заказ (до отсечки): деньги возвращаются сразу",
    )
    async def cancel(self, actor: ActorDep, order_id: PathId) -> s.MealOrderOut:
        return await orders.cancel_order(actor, order_id)

    @post(
        "/pupils/{student_id:int}/illness",
        guards=[FAMILY],
        status_code=HTTP_200_OK,
        summary="Ребёнок болеет: отменить заказы на эти дни (до отсечки)",
    )
    async def illness(
        self,
        actor: ActorDep,
        student_id: PathId,
        data: Annotated[s.AbsenceReport, Body()],
    ) -> s.AbsenceOut:
        return await orders.report_absence(actor, student_id, data, by_school=False)

    @post(
        "/pupils/{student_id:int}/absence",
        guards=[MENU_MAKERS],
        status_code=HTTP_200_OK,
        summary="Школа отмечает отсутствие: заказы на эти дни отменяются (до отсечки)",
    )
    async def absence(
        self,
        actor: ActorDep,
        student_id: PathId,
        data: Annotated[s.AbsenceReport, Body()],
    ) -> s.AbsenceOut:
        return await orders.report_absence(actor, student_id, data, by_school=True)

    @post(
        "/schools/{school_id:int}/cutoff",
        guards=[BOOKKEEPERS],
        status_code=HTTP_200_OK,
        summary="Списать резервы заказов, по которым прошла отсечка",
    )
    async def cutoff(self, actor: ActorDep, school_id: PathId) -> s.CutoffOut:
        return await orders.run_cutoff(actor, school_id)


class BenefitsController(Controller):
    path = "/api/v1/meals"
    tags = ["Питание: льготы"]

    @post(
        "/schools/{school_id:int}/benefit-covers",
        guards=[BOOKKEEPERS],
        status_code=HTTP_201_CREATED,
        summary="Что даёт льготная категория в школе: приёмы пищи, полностью или частично",
    )
    async def add_cover(
        self,
        actor: ActorDep,
        school_id: PathId,
        data: Annotated[s.BenefitCoverCreate, Body()],
    ) -> s.BenefitCoverOut:
        return await benefits.add_cover(actor, school_id, data)

    @get(
        "/schools/{school_id:int}/benefit-covers",
        guards=[MEALS_STAFF],
        summary="Льготы школы",
    )
    async def covers(self, actor: ActorDep, school_id: PathId) -> list[s.BenefitCoverOut]:
        return await benefits.list_covers(actor, school_id)

    @post(
        "/pupils/{student_id:int}/benefit-refusals",
        guards=[FAMILY],
        status_code=HTTP_201_CREATED,
        summary="Отказ от льготного питания на день (с причиной)",
    )
    async def refuse(
        self,
        actor: ActorDep,
        student_id: PathId,
        data: Annotated[s.BenefitRefusalCreate, Body()],
    ) -> s.AbsenceOut:
        return await orders.refuse_day(actor, student_id, data)


class BuffetController(Controller):
    path = "/api/v1/meals"
    tags = ["Питание: буфет"]

    @post(
        "/schools/{school_id:int}/buffet-products",
        guards=[MENU_MAKERS],
        status_code=HTTP_201_CREATED,
        summary="Товар буфета",
    )
    async def add_product(
        self,
        actor: ActorDep,
        school_id: PathId,
        data: Annotated[s.BuffetProductCreate, Body()],
    ) -> s.BuffetProductOut:
        return await buffet.add_product(actor, school_id, data)

    @get(
        "/pupils/{student_id:int}/buffet",
        guards=[PUPIL_MENU_READERS],
        summary="Буфет для обучающегося: товары, дневной лимит, стоп-лист, потрачено сегодня",
    )
    async def pupil_buffet(self, actor: ActorDep, student_id: PathId) -> s.PupilBuffetOut:
        return await buffet.pupil_buffet(actor, student_id)

    @put(
        "/pupils/{student_id:int}/buffet",
        guards=[FAMILY],
        summary="Дневной лимит и стоп-лист буфета (родитель)",
    )
    async def set_rules(
        self,
        actor: ActorDep,
        student_id: PathId,
        data: Annotated[s.BuffetRules, Body()],
    ) -> s.PupilBuffetOut:
        return await buffet.set_rules(actor, student_id, data)

    @post(
        "/schools/{school_id:int}/buffet-sales",
        guards=[MENU_MAKERS],
        status_code=HTTP_201_CREATED,
        summary="Продажа в буфете по карте (или номеру) с лицевого счёта обучающегося",
    )
    async def sell(
        self,
        actor: ActorDep,
        school_id: PathId,
        data: Annotated[s.BuffetSaleCreate, Body()],
    ) -> s.BuffetSaleOut:
        return await buffet.sell(actor, school_id, data)


class CounterController(Controller):
    """The canteen counter: today's class list and serving marks (canteen staff of the school)."""

    path = "/api/v1/meals"
    tags = ["Питание: раздача"]

    @get(
        "/schools/{school_id:int}/counter/classes/{class_id:int}",
        guards=[MENU_MAKERS],
        summary="Раздача: список класса на сегодня — заказ приёма пищи и отметка о выдаче",
    )
    async def class_list(
        self, actor: ActorDep, school_id: PathId, class_id: PathId, meal_kind: CounterKind
    ) -> s.CounterClassOut:
        return await counter.class_list(actor, school_id, class_id, meal_kind)

    @post(
        "/schools/{school_id:int}/counter/classes/{class_id:int}/servings",
        guards=[MENU_MAKERS],
        status_code=HTTP_200_OK,
        summary="Раздача по списку класса: отметить выданными названных или весь список",
    )
    async def serve_class(
        self,
        actor: ActorDep,
        school_id: PathId,
        class_id: PathId,
        data: Annotated[s.ClassServeRequest, Body()],
    ) -> s.ClassServingOut:
        return await counter.serve_class(actor, school_id, class_id, data)

    @post(
        "/schools/{school_id:int}/servings",
        guards=[MENU_MAKERS],
        status_code=HTTP_201_CREATED,
        summary="Раздача по карте (или номеру) обучающегося: выдать заказанный приём пищи",
        description=(
            "Карта — та же, что для турникетов (`card`: номер и формат считывателя); если карты "
            "нет — номер обучающегося (`student_id`). Выдача списывает резерв заказа, если "
            "отсечка ещё не списала его. Без заказа на сегодня, при отменённом заказе или "
            "повторной выдаче — 409 с причиной; повторная выдача ничего не списывает."
        ),
    )
    async def serve(
        self, actor: ActorDep, school_id: PathId, data: Annotated[s.ServeRequest, Body()]
    ) -> s.ServingOut:
        return await counter.serve(actor, school_id, data)


class StandingOrdersController(Controller):
    path = "/api/v1/meals"
    tags = ["Питание: заказы"]

    @post(
        "/pupils/{student_id:int}/standing-orders",
        guards=[FAMILY],
        status_code=HTTP_201_CREATED,
        summary="Постоянный заказ («обед каждый учебный день»)",
        description=(
            "Каждый учебный день из `weekdays` становится обычным заказом за неделю вперёд, до "
            "отсечки этого дня: его можно отменить отдельно. Если предпочтённого комплекса нет в "
            "меню дня, берётся первый подходящий комплекс того же приёма пищи без аллергенов "
            "ребёнка. Что сделано по каждому дню (заказано или почему нет) — в `days`."
        ),
    )
    async def create_standing(
        self,
        actor: ActorDep,
        student_id: PathId,
        data: Annotated[s.StandingOrderCreate, Body()],
    ) -> s.StandingOrderOut:
        return await standing.create(actor, student_id, data)

    @get(
        "/pupils/{student_id:int}/standing-orders",
        guards=[ACCOUNT_READERS],
        summary="Постоянные заказы обучающегося и что по ним заказано",
    )
    async def list_standing(self, actor: ActorDep, student_id: PathId) -> list[s.StandingOrderOut]:
        return await standing.list_for(actor, student_id)

    @post(
        "/standing-orders/{standing_id:int}/cancel",
        guards=[FAMILY],
        status_code=HTTP_200_OK,
        summary="Отменить постоянный заказ (и его дни, по которым отсечка не прошла)",
    )
    async def cancel_standing(self, actor: ActorDep, standing_id: PathId) -> s.StandingOrderOut:
        return await standing.cancel(actor, standing_id)


class RequisitionsController(Controller):
    path = "/api/v1/meals"
    tags = ["Питание: заявки"]

    @get(
        "/schools/{school_id:int}/requisitions",
        guards=[MEALS_STAFF],
        summary="Заявки организаторам питания на день (фиксируются при отсечке)",
    )
    async def list_requisitions(
        self, actor: ActorDep, school_id: PathId, day: MenuDate
    ) -> list[s.RequisitionOut]:
        return await requisitions.list_for_school(actor, school_id, day)

    @get(
        "/schools/{school_id:int}/reports",
        guards=[BOOKKEEPERS],
        summary="Отчёт по питанию за день или месяц: приёмы пищи (платные и льготные), деньги",
    )
    async def meal_report(
        self, actor: ActorDep, school_id: PathId, date_from: DateFrom, date_to: DateTo
    ) -> s.MealReportOut:
        return await reports.meal_report(actor, school_id, date_from, date_to)

    @get(
        "/requisitions/{requisition_id:int}/file",
        guards=[MEALS_STAFF],
        summary="Заявка файлом: XLSX или PDF",
        media_type="application/octet-stream",
        operation_class=answers_in(XLSX, PDF),
    )
    async def requisition_file(
        self,
        actor: ActorDep,
        requisition_id: PathId,
        file_format: Annotated[requisitions.FileFormat, QueryParameter(name="format")] = "xlsx",
    ) -> Response[bytes]:
        content, media, name = await requisitions.requisition_file(
            actor, requisition_id, file_format
        )
        return Response(
            content,
            media_type=media,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )


CONTROLLERS = [
    MealAccountsController,
    MenusController,
    OrdersController,
    BenefitsController,
    BuffetController,
    CounterController,
    PaymentsController,
    PaymentReturnController,
    StandingOrdersController,
    RequisitionsController,
]
