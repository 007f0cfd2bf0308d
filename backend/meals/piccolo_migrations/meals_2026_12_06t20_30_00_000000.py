"""Indexes of the meals context, and the trigger that keeps ledger transfers append-only
(PostgreSQL: one function and trigger; SQLite: three triggers). See decision 0801."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder
from piccolo.engine.postgres import PostgresEngine

ID = "2026-12-06T20:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "meals indexes and the append-only ledger"

STATEMENTS = [
    'CREATE UNIQUE INDEX IF NOT EXISTS "ledger_account_code" ON "ledger_account" ("code")',
    'CREATE INDEX IF NOT EXISTS "ledger_account_school_kind" ON "ledger_account" ("school", "kind")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "ledger_transfer_idempotency" ON "ledger_transfer" ("idempotency_key")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "ledger_transfer_pending" ON "ledger_transfer" ("pending_id")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "ledger_transfer_reverses" ON "ledger_transfer" ("reverses_id")',
    'CREATE INDEX IF NOT EXISTS "ledger_transfer_refund_of" ON "ledger_transfer" ("refund_of")',
    'CREATE INDEX IF NOT EXISTS "ledger_transfer_debit" ON "ledger_transfer" ("debit_account", "id")',
    'CREATE INDEX IF NOT EXISTS "ledger_transfer_credit" ON "ledger_transfer" ("credit_account", "id")',
    'CREATE INDEX IF NOT EXISTS "ledger_transfer_school_created" ON "ledger_transfer" ("school", "created_at")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "pupil_account_student" ON "pupil_account" ("student")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "meal_school_settings_school" ON "meal_school_settings" ("school")',
]

POSTGRES_TRIGGERS = [
    "CREATE OR REPLACE FUNCTION ledger_transfer_guard() RETURNS trigger AS $$\nBEGIN\n  IF TG_OP = 'INSERT' THEN\n    IF NEW.amount <= 0 THEN\n      RAISE EXCEPTION 'ledger_transfer amount must be positive'\n        USING ERRCODE = 'check_violation';\n    END IF;\n    RETURN NEW;\n  END IF;\n  RAISE EXCEPTION 'ledger_transfer is append-only: make a reversing transfer instead' USING ERRCODE = 'restrict_violation';\nEND\n$$ LANGUAGE plpgsql",
    'DROP TRIGGER IF EXISTS ledger_transfer_append_only ON ledger_transfer',
    'CREATE TRIGGER ledger_transfer_append_only BEFORE INSERT OR UPDATE OR DELETE ON ledger_transfer FOR EACH ROW EXECUTE FUNCTION ledger_transfer_guard()',
]

SQLITE_TRIGGERS = [
    "CREATE TRIGGER IF NOT EXISTS ledger_transfer_no_update BEFORE UPDATE ON ledger_transfer BEGIN SELECT RAISE(ABORT, 'ledger_transfer is append-only: make a reversing transfer instead'); END",
    "CREATE TRIGGER IF NOT EXISTS ledger_transfer_no_delete BEFORE DELETE ON ledger_transfer BEGIN SELECT RAISE(ABORT, 'ledger_transfer is append-only: make a reversing transfer instead'); END",
    "CREATE TRIGGER IF NOT EXISTS ledger_transfer_positive BEFORE INSERT ON ledger_transfer WHEN NEW.amount <= 0 BEGIN SELECT RAISE(ABORT, 'ledger_transfer amount must be positive'); END",
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="meals", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        assert engine is not None
        triggers = POSTGRES_TRIGGERS if isinstance(engine, PostgresEngine) else SQLITE_TRIGGERS
        for statement in [*STATEMENTS, *triggers]:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
