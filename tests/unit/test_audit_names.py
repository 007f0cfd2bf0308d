"""The audit log shows every action and object in Russian: each audited action and object type
the code writes (its literals and named constants, found by reading the code) has a name in the
catalogue (web.people.actions / web.people.objects), so no raw code reaches the page."""

from __future__ import annotations

import ast
from pathlib import Path

from backend.audit.services import AuditAction
from backend.i18n import has
from backend.meals.ledger import Status
from backend.web.people_audit import label, object_label

ROOT = Path(__file__).resolve().parents[2] / "backend"
# Written from a variable, so not found as a literal: the values it takes.
DYNAMIC_ACTIONS = {f"meals.transfer.{s.value}" for s in Status}
DYNAMIC_OBJECTS = (
    {"telegram_chat", "max_chat", "pupil_statement"}
    | {f"export.{k}" for k in ("pupils", "guardians", "staff", "classes")}
    | {"pupils", "guardians", "staff", "classes"}
)


def _trees() -> list[ast.Module]:
    return [ast.parse(p.read_text(encoding="utf-8")) for p in sorted(ROOT.rglob("*.py"))]


def _written() -> tuple[set[str], set[str]]:
    """Literal actions and object types passed to the audit's writers and their wrappers (any
    function taking `action` and `object_type`, or `action` and `kind`), and the constants
    named *ACTION* or READ_*."""
    trees = _trees()
    writers: dict[str, tuple[int | None, int | None]] = {}
    actions: set[str] = set()
    objects: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names = [a.arg for a in node.args.args]
                keywords = [a.arg for a in node.args.kwonlyargs]
                if "action" in names and ({"object_type", "kind"} & set(names + keywords)):
                    where = "object_type" if "object_type" in names else "kind"
                    writers[node.name] = (
                        names.index("action"),
                        names.index(where) if where in names else None,
                    )
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                for target in node.targets:
                    if (
                        isinstance(target, ast.Name)
                        and ("ACTION" in target.id or target.id.startswith("READ_"))
                        and isinstance(node.value.value, str)
                        and "." in node.value.value
                    ):
                        actions.add(node.value.value)
    # `audit.services.Entry` (for `record_many`) is a dataclass: its fields, not a function's.
    writers["Entry"] = (0, 1)
    for tree in trees:
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name not in writers:
                continue
            for index, bucket, keyword in (
                (writers[name][0], actions, "action"),
                (writers[name][1], objects, "object_type"),
            ):
                values = [k.value for k in node.keywords if k.arg == keyword]
                if index is not None and len(node.args) > index:
                    values.append(node.args[index])
                for v in values:
                    if isinstance(v, ast.Constant) and isinstance(v.value, str):
                        bucket.add(v.value)
    return actions, objects


def test_every_audited_action_and_object_has_a_russian_name() -> None:
    actions, objects = _written()
    actions |= DYNAMIC_ACTIONS | {
        v for k, v in vars(AuditAction).items() if k.isupper() and isinstance(v, str)
    }
    objects |= DYNAMIC_OBJECTS
    assert {"meals.serve", "read.access_log", "create"} <= actions  # the reading found them
    assert {"ledger_transfer", "school_class"} <= objects
    assert sorted(a for a in actions if not has(f"web.people.actions.{a}")) == []
    assert sorted(o for o in objects if not has(f"web.people.objects.{o}")) == []
    assert label("meals.transfer.posted") == "проводка по счёту питания"
    assert object_label("ledger_transfer") == "проводка"
    assert object_label("something_new") == "something_new"
