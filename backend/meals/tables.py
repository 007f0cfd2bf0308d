"""Tables of the meals context: the ledger (accounts, transfers), pupils' accounts and the
schools' meal settings.

Pupils, schools and caterers of other contexts are referenced by id (plain integers): the meals
context reaches them through their services. `LedgerTransfer` is append-only in the database
itself (`TRIGGERS`, decision 0801): a hold is resolved by a new row naming it (`pending_id`), a
correction by a new row reversing another (`reverses_id`); the running totals on
`LedgerAccount` are a cache of those rows, updated in the same transaction and checked against
a replay of them by the tests.
"""

from __future__ import annotations

from pathlib import Path

from piccolo.columns import (
    JSONB,
    BigInt,
    BigSerial,
    Boolean,
    Date,
    DoublePrecision,
    ForeignKey,
    Integer,
    SmallInt,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.conf.apps import AppConfig
from piccolo.table import Table

from backend.core.db_index import Index, Trigger


class LedgerAccount(Table):
    """A book account of the meals ledger: a pupil's money, a school's provider clearing, cash
    desk, benefit budget, or what the school owes a caterer. Totals in kopecks (TigerBeetle's
    four counters: pending and posted, on each side)."""

    id = BigSerial(primary_key=True)
    code = Varchar(length=64)  # unique: "pupil:17", "school:3:provider_clearing", ...
    kind = Varchar(length=24)
    school = Integer()
    student = Integer(null=True, default=None)
    caterer = Integer(null=True, default=None)
    overdraft_limit = BigInt(default=0)  # pupils' accounts: how far below zero available may go
    debits_pending = BigInt(default=0)
    debits_posted = BigInt(default=0)
    credits_pending = BigInt(default=0)
    credits_posted = BigInt(default=0)
    created_at = Timestamptz()


class LedgerTransfer(Table):
    """проводка: money moving from the debit account to the credit account, in kopecks.

    status: `pending` (a hold), `posted`, `voided`. A row with `pending_id` resolves that hold
    (posts or voids it; at most one such row per hold: a unique index). A row with
    `reverses_id` is a correction undoing that posted row (at most one per row). A row with
    `refund_of` gives back (part of) that top-up. Rows are never changed or deleted.
    """

    id = BigSerial(primary_key=True)
    debit_account = ForeignKey(LedgerAccount, null=False, on_delete=OnDelete.restrict)
    credit_account = ForeignKey(LedgerAccount, null=False, on_delete=OnDelete.restrict)
    amount = BigInt()
    status = Varchar(length=8)  # pending | posted | voided
    kind = Varchar(length=16)  # top_up | refund | meal_order | benefit_meal | buffet | correction
    pending_id = BigInt(null=True, default=None)
    reverses_id = BigInt(null=True, default=None)
    refund_of = BigInt(null=True, default=None)
    idempotency_key = Varchar(length=100)
    school = Integer()
    reference = Varchar(length=64, default="")  # e.g. "order:15", "payment:2f3a..."
    reason = Varchar(length=500, default="")
    created_by = Integer(null=True, default=None)
    created_at = Timestamptz()


class PupilAccount(Table):
    """лицевой счёт: one per pupil, the family's view of the pupil's money. Its balance comes
    from `ledger_account` (never stored here); the guardian's own settings live here."""

    student = Integer()
    school = Integer()
    ledger_account = ForeignKey(LedgerAccount, null=False, on_delete=OnDelete.restrict)
    low_balance_threshold = BigInt(null=True, default=None)  # kopecks; None: no alert
    daily_limit = BigInt(null=True, default=None)  # buffet spending a day; None: no limit
    stop_list = JSONB(default=[])  # buffet products the guardian forbade (ids)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class MealSchoolSettings(Table):
    """A school's meal rules kept by the meals context: the overdraft limit and how far ahead
    families order. The cut-off time and study days are the school's own settings (schools)."""

    school = Integer()
    overdraft_limit = BigInt(default=0)
    order_horizon_days = SmallInt(default=14)
    menu_cycle_start = Date(null=True, default=None)  # a Monday: week 1 of the cyclic menu
    pupils_may_order = Boolean(default=False)
    # A fresh token at every write of what an order reads of the school (these settings, the
    # cyclic menu, meal sets, plans, benefit covers): the key of each process's copy of them
    # (`backend.meals.school_menu`, decision 0809).
    menu_version = Varchar(length=32, default="")
    updated_at = Timestamptz()


# ---- menus ---------------------------------------------------------------------------------


class Caterer(Table):
    """организатор питания: the company that cooks; serves the schools in `schools`."""

    name = Varchar(length=300)
    inn = Varchar(length=12, default="")
    email = Varchar(length=254, default="")  # where requisitions are sent ("" : API only)
    schools = JSONB(default=[])  # ids of the schools it serves
    created_at = Timestamptz()


class Dish(Table):
    """блюдо: composition, allergens (codes of `backend.meals.menus.ALLERGENS`), weight in
    grams, energy in kcal and proteins/fats/carbohydrates in grams per portion."""

    caterer = ForeignKey(Caterer, null=False, index=True, on_delete=OnDelete.restrict)
    name = Varchar(length=200)
    composition = Text(default="")
    allergens = JSONB(default=[])
    weight_g = Integer()
    kcal = DoublePrecision()
    proteins_g = DoublePrecision()
    fats_g = DoublePrecision()
    carbs_g = DoublePrecision()
    created_at = Timestamptz()


class MealSet(Table):
    """комплекс: dishes served together at one meal, at one price (kopecks), for some grades;
    `diet` names a dietary menu ("" for the ordinary one)."""

    school = Integer(index=True)
    caterer = ForeignKey(Caterer, null=False, on_delete=OnDelete.restrict)
    name = Varchar(length=200)
    kind = Varchar(length=16)  # breakfast | lunch | snack
    price = BigInt()
    grades = JSONB(default=[])
    dishes = JSONB(default=[])  # dish ids, in serving order
    diet = Varchar(length=32, default="")
    is_active = Boolean(default=True)
    created_at = Timestamptz()


class MealPlan(Table):
    """режим питания: which meal kinds a class gets on which weekdays (1 = Monday)."""

    school = Integer(index=True)
    school_class = Integer()
    kinds = JSONB(default=[])
    weekdays = JSONB(default=[])
    updated_at = Timestamptz()


class MenuCycleDay(Table):
    """One day of the school's two-week cyclic menu: week 1 or 2 of the cycle, a weekday, and
    the meal sets offered. The cycle counts from `MealSchoolSettings.menu_cycle_start`."""

    school = Integer()
    week = SmallInt()
    weekday = SmallInt()
    meal_sets = JSONB(default=[])
    updated_at = Timestamptz()


class PupilDiet(Table):
    """A pupil's recorded allergens (hard block on ordering) and dietary menu, kept by the
    family or the school nurse."""

    student = Integer()
    allergens = JSONB(default=[])
    diet = Varchar(length=32, default="")
    updated_by = Integer(null=True, default=None)
    updated_at = Timestamptz()


# ---- orders --------------------------------------------------------------------------------


class MealOrder(Table):
    """заказ питания: one meal set for one pupil on one date. `live` is 1 while the order
    stands (ordered or posted) and NULL once cancelled, so that a unique index allows one
    standing order per pupil, date and meal kind, and a new one after a cancellation.
    The money is a hold in the ledger (`hold_id`), posted at the cut-off, voided on cancel."""

    id = BigSerial(primary_key=True)
    student = Integer()
    school = Integer()
    date = Date()
    meal_kind = Varchar(length=16)
    meal_set = Integer()
    caterer = Integer()
    school_class = Integer(null=True, default=None)
    price = BigInt()
    paid_by = Varchar(length=16)  # balance | benefit | mixed (a partial benefit)
    benefit_amount = BigInt(default=0)  # the part the benefit budget pays
    benefit_hold_id = BigInt(null=True, default=None)
    status = Varchar(length=16)  # ordered | posted | cancelled
    live = SmallInt(null=True, default=1)
    hold_id = BigInt(null=True, default=None)
    cancel_reason = Varchar(length=32, default="")  # family | illness | absence
    note = Varchar(length=300, default="")
    created_by = Integer(null=True, default=None)
    created_at = Timestamptz()
    cancelled_at = Timestamptz(null=True, default=None)
    cancelled_by = Integer(null=True, default=None)


class StandingOrder(Table):
    """постоянный заказ: "lunch every school day". Each school day of its weekdays becomes an
    ordinary order (`StandingOrderDay`) a week ahead, before that day's cut-off, so the family
    can still cancel one day. `meal_set` is the preferred set; on a day it is not on the menu
    (or holds the pupil's allergen) the first allowed set of the kind is taken. `live` as in
    `MealOrder`: one standing order per pupil and meal kind."""

    student = Integer()
    school = Integer()
    meal_kind = Varchar(length=16)
    meal_set = Integer(null=True, default=None)
    weekdays = JSONB(default=[])
    valid_from = Date()
    valid_to = Date(null=True, default=None)
    live = SmallInt(null=True, default=1)
    created_by = Integer(null=True, default=None)
    created_at = Timestamptz()
    cancelled_at = Timestamptz(null=True, default=None)
    cancelled_by = Integer(null=True, default=None)


class StandingOrderDay(Table):
    """What a standing order did for one date: the order it placed, or why it placed none
    (no money, a day off, nothing allowed on the menu, the family refused or already chose).
    One row per standing order and date: a day is tried once."""

    standing_order = Integer()
    date = Date()
    order_id = BigInt(null=True, default=None)
    outcome = Varchar(length=24)  # ordered | insufficient_funds | no_set | chosen | refused | ...
    message = Varchar(length=300, default="")
    created_at = Timestamptz()


class MealCutoffRun(Table):
    """The scheduled cut-off ran for a school's meal day (holds posted, default sets ordered)."""

    school = Integer()
    date = Date()
    posted = Integer(default=0)
    default_sets = Integer(default=0)
    ran_at = Timestamptz()


class MealRequisition(Table):
    """заявка на питание: what one caterer cooks for one school on one day, frozen at the
    day's cut-off (once: unique per school, date and caterer). `lines`: one per meal set and
    class, with paid and benefit counts apart and the money of each."""

    id = BigSerial(primary_key=True)
    school = Integer()
    date = Date()
    caterer = Integer()
    lines = JSONB(default=[])
    total_count = Integer(default=0)
    paid_count = Integer(default=0)
    benefit_count = Integer(default=0)
    family_amount = BigInt(default=0)
    benefit_amount = BigInt(default=0)
    frozen_at = Timestamptz()
    sent_at = Timestamptz(null=True, default=None)  # e-mailed to the caterer
    sent_to = Varchar(length=254, default="")


# ---- benefits ------------------------------------------------------------------------------


class BenefitCover(Table):
    """What a benefit category (a code of the pupils' personal files: large_family,
    low_income, disability, primary_free_meals, ... or one a region adds) gives at a school:
    which meal kinds, fully or up to `amount` kopecks a meal, from when to when, on which
    legal basis (`document`). `primary_free_meals` applies to every pupil of grades 1-4."""

    school = Integer()
    category = Varchar(length=32)
    cover = Varchar(length=8)  # full | partial
    amount = BigInt(default=0)  # partial: kopecks a meal the budget pays
    kinds = JSONB(default=[])
    valid_from = Date()
    valid_to = Date(null=True, default=None)
    document = Varchar(length=300, default="")
    created_at = Timestamptz()


class BenefitRefusal(Table):
    """The family refused a benefit meal on a day (no default set is ordered)."""

    student = Integer()
    date = Date()
    meal_kind = Varchar(length=16)
    reason = Varchar(length=300)
    created_by = Integer(null=True, default=None)
    created_at = Timestamptz()


# ---- the canteen counter -------------------------------------------------------------------


class BuffetProduct(Table):
    """A product sold at the school's buffet, at a price in kopecks."""

    school = Integer(index=True)
    caterer = Integer()
    name = Varchar(length=200)
    price = BigInt()
    is_active = Boolean(default=True)
    created_at = Timestamptz()


class BuffetSale(Table):
    """A buffet sale to a pupil against the account: what, for how much, on which local day
    (for the guardian's daily limit), and the ledger transfer that paid it."""

    id = BigSerial(primary_key=True)
    school = Integer()
    student = Integer()
    local_date = Date()
    items = JSONB(default=[])  # [{"product_id", "name", "price", "quantity"}]
    total = BigInt()
    transfer_id = BigInt()
    sold_by = Integer(null=True, default=None)
    sold_at = Timestamptz()


class MealServing(Table):
    """выдача: the canteen served one order (one row per order: a unique index, so a second
    serving of the same order cannot be written). `via` says how the pupil was found: the
    class list, a card (`card_id`, the access context's card) or the pupil's number."""

    id = BigSerial(primary_key=True)
    order_id = BigInt()
    school = Integer()
    student = Integer()
    date = Date()  # the meal day (the school's date)
    meal_kind = Varchar(length=16)
    via = Varchar(length=8)  # list | card | number
    card_id = Integer(null=True, default=None)
    served_by = Integer(null=True, default=None)
    served_at = Timestamptz()


# ---- payments ------------------------------------------------------------------------------


class MealPayment(Table):
    """пополнение через платёжного агрегатора: a family's top-up by card or SBP. `public_id`
    names it to the provider (its idempotence key and metadata). `status` is what the provider
    last reported (created before it answered); the money is credited by the ledger transfer
    `transfer_id` (at most once: its idempotency key is the provider's payment id)."""

    id = BigSerial(primary_key=True)
    public_id = Varchar(length=36)  # unique: uuid4 hex
    request_key = Varchar(length=100)  # unique: the family's idempotency key, per pupil
    school = Integer()
    student = Integer()
    amount = BigInt()  # kopecks asked
    method = Varchar(length=16)  # bank_card | sbp
    provider = Varchar(length=16)
    provider_payment_id = Varchar(length=64, null=True, default=None)
    status = Varchar(length=24)  # created | pending | waiting_for_capture | succeeded | canceled
    paid_amount = BigInt(default=0)  # kopecks the provider reports paid
    confirmation_url = Varchar(length=1000, default="")
    cancellation_reason = Varchar(length=64, default="")
    receipt_email = Varchar(length=254, default="")
    receipt_phone = Varchar(length=16, default="")
    transfer_id = BigInt(null=True, default=None)
    created_by = Integer(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class MealPaymentRefund(Table):
    """A refund of (part of) a provider payment: the ledger holds the money (`hold_id`, a
    pending refund) until the provider confirms, then posts it, or voids it on refusal."""

    id = BigSerial(primary_key=True)
    public_id = Varchar(length=36)
    request_key = Varchar(length=100)  # unique
    payment = BigInt()
    school = Integer()
    amount = BigInt()
    status = Varchar(length=16)  # pending | succeeded | canceled
    hold_id = BigInt()
    provider_refund_id = Varchar(length=64, null=True, default=None)
    reason = Varchar(length=500, default="")
    created_by = Integer(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()


INDEXES = [
    Index("ledger_account_code", "ledger_account", ("code",), unique=True),
    Index("ledger_account_school_kind", "ledger_account", ("school", "kind")),
    Index("ledger_transfer_idempotency", "ledger_transfer", ("idempotency_key",), unique=True),
    Index("ledger_transfer_pending", "ledger_transfer", ("pending_id",), unique=True),
    Index("ledger_transfer_reverses", "ledger_transfer", ("reverses_id",), unique=True),
    Index("ledger_transfer_refund_of", "ledger_transfer", ("refund_of",)),
    Index("ledger_transfer_debit", "ledger_transfer", ("debit_account", "id")),
    Index("ledger_transfer_credit", "ledger_transfer", ("credit_account", "id")),
    Index("ledger_transfer_school_created", "ledger_transfer", ("school", "created_at")),
    Index("pupil_account_student", "pupil_account", ("student",), unique=True),
    Index("meal_school_settings_school", "meal_school_settings", ("school",), unique=True),
    Index("meal_plan_class", "meal_plan", ("school_class",), unique=True),
    Index("menu_cycle_day_slot", "menu_cycle_day", ("school", "week", "weekday"), unique=True),
    Index("pupil_diet_student", "pupil_diet", ("student",), unique=True),
    Index("meal_order_live", "meal_order", ("student", "date", "meal_kind", "live"), unique=True),
    Index("meal_order_school_date", "meal_order", ("school", "date")),
    Index("benefit_cover_school", "benefit_cover", ("school", "category")),
    Index("buffet_sale_student_day", "buffet_sale", ("student", "local_date")),
    Index("benefit_refusal_day", "benefit_refusal", ("student", "date", "meal_kind"), unique=True),
    Index("standing_order_live", "standing_order", ("student", "meal_kind", "live"), unique=True),
    Index("standing_order_school", "standing_order", ("school", "live")),
    Index("standing_order_day_once", "standing_order_day", ("standing_order", "date"), unique=True),
    Index("meal_requisition_once", "meal_requisition", ("school", "date", "caterer"), unique=True),
    Index("meal_cutoff_run_once", "meal_cutoff_run", ("school", "date"), unique=True),
    Index("meal_serving_order", "meal_serving", ("order_id",), unique=True),
    Index("meal_serving_school_date", "meal_serving", ("school", "date", "meal_kind")),
    Index("meal_payment_public_id", "meal_payment", ("public_id",), unique=True),
    Index("meal_payment_request_key", "meal_payment", ("request_key",), unique=True),
    Index("meal_payment_provider_id", "meal_payment", ("provider_payment_id",), unique=True),
    Index("meal_payment_school_created", "meal_payment", ("school", "created_at")),
    Index("meal_payment_refund_request_key", "meal_payment_refund", ("request_key",), unique=True),
    Index("meal_payment_refund_provider_id", "meal_payment_refund", ("provider_refund_id",)),
    Index("meal_payment_refund_payment", "meal_payment_refund", ("payment",)),
]

_APPEND_ONLY = "ledger_transfer is append-only: make a reversing transfer instead"

# Entries are append-only in the database itself (decision 0801): whatever code runs, an
# UPDATE or DELETE of a transfer fails. A zero or negative amount never gets in either.
TRIGGERS = [
    Trigger(
        name="ledger_transfer_append_only",
        table="ledger_transfer",
        postgres=(
            "CREATE OR REPLACE FUNCTION ledger_transfer_guard() RETURNS trigger AS $$\n"
            "BEGIN\n"
            "  IF TG_OP = 'INSERT' THEN\n"
            "    IF NEW.amount <= 0 THEN\n"
            "      RAISE EXCEPTION 'ledger_transfer amount must be positive'\n"
            "        USING ERRCODE = 'check_violation';\n"
            "    END IF;\n"
            "    RETURN NEW;\n"
            "  END IF;\n"
            f"  RAISE EXCEPTION '{_APPEND_ONLY}' USING ERRCODE = 'restrict_violation';\n"
            "END\n"
            "$$ LANGUAGE plpgsql",
            "DROP TRIGGER IF EXISTS ledger_transfer_append_only ON ledger_transfer",
            "CREATE TRIGGER ledger_transfer_append_only "
            "BEFORE INSERT OR UPDATE OR DELETE ON ledger_transfer "
            "FOR EACH ROW EXECUTE FUNCTION ledger_transfer_guard()",
        ),
        sqlite=(
            "CREATE TRIGGER IF NOT EXISTS ledger_transfer_no_update BEFORE UPDATE ON "
            f"ledger_transfer BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END",
            "CREATE TRIGGER IF NOT EXISTS ledger_transfer_no_delete BEFORE DELETE ON "
            f"ledger_transfer BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END",
            "CREATE TRIGGER IF NOT EXISTS ledger_transfer_positive BEFORE INSERT ON "
            "ledger_transfer WHEN NEW.amount <= 0 "
            "BEGIN SELECT RAISE(ABORT, 'ledger_transfer amount must be positive'); END",
        ),
        sqlite_names=(
            "ledger_transfer_no_update",
            "ledger_transfer_no_delete",
            "ledger_transfer_positive",
        ),
    )
]

APP_CONFIG = AppConfig(
    app_name="meals",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[
        LedgerAccount,
        LedgerTransfer,
        PupilAccount,
        MealSchoolSettings,
        Caterer,
        Dish,
        MealSet,
        MealPlan,
        MenuCycleDay,
        PupilDiet,
        MealOrder,
        BenefitCover,
        BenefitRefusal,
        BuffetProduct,
        BuffetSale,
        MealServing,
        MealPayment,
        MealPaymentRefund,
        StandingOrder,
        StandingOrderDay,
        MealCutoffRun,
        MealRequisition,
    ],
    migration_dependencies=["backend.schools.tables"],
    commands=[],
)
