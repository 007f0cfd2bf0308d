"""The system's own figures on /metrics (backend/ops/metrics.py) say what the database and the
queue hold: the outbox's backlog and lag, deliveries by channel and status, dead letters, the
turnstile ingest, the ledger's balance check; and the alert rules and the dashboard in
infra/monitoring/ use only names /metrics serves."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

from backend.core.rights import Grant, Role, ScopeKind
from backend.events.tables import OutboxEvent
from backend.meals.tables import LedgerAccount
from backend.messaging.tables import Delivery
from tests.conftest import Backend
from tests.integration.access.arrange import turnstiles
from tests.support import sign_in

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "infra" / "monitoring"


async def scrape(world: Backend) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    token = world.settings.metrics_token.get_secret_value()
    answer = await world.client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


async def test_the_figures_follow_the_database(world: Backend) -> None:
    now = datetime.now(UTC)
    for n, (channel, status, dead) in enumerate(
        [("push", "delivered", False), ("push", "delivered", False), ("telegram", "failed", True)]
    ):
        await Delivery(
            notification_id=n, event_id=n, user_id=1, channel=channel, status=status,
            dead=dead, created_at=now, updated_at=now,
        ).save()  # fmt: skip
    await Delivery(  # older than the hour: not among the recent ones
        notification_id=9, event_id=9, user_id=1, channel="sms", status="sent",
        created_at=now - timedelta(hours=2), updated_at=now,
    ).save()  # fmt: skip
    t = await turnstiles(world, pupils=2)
    stored = await t.post([t.event(s, now - timedelta(minutes=1)) for s in t.students])
    assert stored.status_code == 200, stored.text
    admin = await sign_in(world, Grant(Role.SCHOOL_ADMIN, ScopeKind.SCHOOL, t.school_id))
    top_up = await world.client.post(
        f"/api/v1/meals/pupils/{t.students[0]}/cash-top-ups",
        json={"amount": 10_000, "idempotency_key": "cash-0001", "comment": "Касса"},
        headers=admin.headers,
    )
    assert top_up.status_code == 201, top_up.text
    # The outbox: only these (the passes and the top-up above wrote events of their own)
    await OutboxEvent.delete(force=True)
    await OutboxEvent(kind="mark.created", occurred_at=now - timedelta(seconds=90)).save()
    await OutboxEvent(kind="mark.created", occurred_at=now - timedelta(seconds=30)).save()
    await OutboxEvent(kind="mark.created", occurred_at=now, published_at=now).save()

    await world.app.state.system_metrics.refresh(now=now)
    figures = await scrape(world)
    assert figures[("parta_outbox_waiting_events", ())] == 2
    assert 89 <= figures[("parta_outbox_lag_seconds", ())] <= 91
    assert figures[("parta_deliveries_recent", (("channel", "push"), ("status", "delivered")))] == 2
    assert (
        figures[("parta_deliveries_recent", (("channel", "telegram"), ("status", "failed")))] == 1
    )
    assert not any(name == "parta_deliveries_recent" and dict(labels).get("channel") == "sms"
                   for name, labels in figures)  # fmt: skip
    assert figures[("parta_dead_letters", ())] == 1
    assert figures[("parta_access_passes_per_second", ())] == 2 / 300
    assert figures[("parta_ledger_imbalance_kopecks", (("side", "posted"),))] == 0
    assert figures[("parta_system_metrics_up", ())] == 1
    if world.kind == "postgres":
        assert figures[("parta_db_pool_connections", (("state", "max"),))] == 10

    # Books changed outside the ledger show at once as an imbalance.
    account = await LedgerAccount.select(LedgerAccount.id).first()
    assert account is not None
    await LedgerAccount.update(
        {LedgerAccount.debits_posted: LedgerAccount.debits_posted + 250}
    ).where(LedgerAccount.id == account["id"])
    await world.app.state.system_metrics.refresh(now=now)
    figures = await scrape(world)
    assert figures[("parta_ledger_imbalance_kopecks", (("side", "posted"),))] == 250


async def test_alert_rules_and_dashboard_use_only_served_names(world: Backend) -> None:
    await world.app.state.system_metrics.refresh(now=datetime.now(UTC))
    token = world.settings.metrics_token.get_secret_value()
    served = (await world.client.get("/metrics", headers={"Authorization": f"Bearer {token}"})).text
    families = {f.name for f in text_string_to_metric_families(served)}
    names = {s.name for f in text_string_to_metric_families(served) for s in f.samples}
    known = families | names

    rules = yaml.safe_load((MONITORING / "alerts.yaml").read_text(encoding="utf-8"))
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text(encoding="utf-8"))
    exprs += [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert len(exprs) >= 12
    used = {name for expr in exprs for name in re.findall(r"\b(parta_[a-z_]+)", expr)}
    assert used, exprs
    assert used <= known, f"names no /metrics serves: {sorted(used - known)}"
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert rule["annotations"]["summary"]  # every alert says what it means
