"""Digests: a person's notifications gathered on one channel into one message at the time the
person chose, and handed to the next channel when this one cannot carry it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from backend.events.kinds import EMAIL, FALLBACK_ORDER
from backend.messaging import deliveries as records
from backend.messaging.deliveries import PENDING
from notifications import templates
from notifications.channels.base import Channel, Outgoing, PermanentFailure, TemporaryFailure
from notifications.delivery import Sender
from notifications.jobs import Jobs, loaded, utcnow
from notifications.pacing import Pacer


class Digests:
    def __init__(
        self,
        jobs: Jobs,
        channels: dict[str, Channel],
        pacer: Pacer,
        sender: Sender,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.jobs = jobs
        self.channels = channels
        self.pacer = pacer
        self.sender = sender
        self.clock = clock

    async def digest_fallback(self, rows: list[dict[str, Any]]) -> None:
        """A digest its channel cannot carry goes by the next channel, still as one digest:
        each gathered notification gets a delivery there (in the digest, due when this one
        was), unless another of its channels still carries it, and the next channel's digest
        runs now."""
        others = await records.siblings(r["notification_id"] for r in rows)
        taken: set[str] = set()
        for row in rows:
            meta = loaded(row["meta"]) or {}
            siblings = others.get(row["notification_id"], [])
            if any(
                o["status"] in ("sent", "delivered", *PENDING)
                for o in siblings
                if o["channel"] != row["channel"]
            ):
                continue
            used = {o["channel"] for o in siblings}
            following = next(
                (c for c in meta.get("order") or FALLBACK_ORDER if c not in used), None
            )
            if following is None:
                continue
            await records.add(
                row,
                following,
                {**meta, "fallback_from": row["channel"]},
                status="digest",
                scheduled_for=row["scheduled_for"],
            )
            taken.add(following)
        for following in sorted(taken):
            tag = f":from-{rows[0]['channel']}"
            at = self.clock()  # now, as the queue counts it
            await self.jobs.queue.enqueue(
                self.jobs.digest_job(rows[0]["user_id"], following, at, tag)
            )

    async def digest(self, user_id: int, channel_name: str) -> str:
        """Gather a person's waiting notifications on one channel into one message."""
        now = self.clock()
        rows = await records.due_digest(user_id, channel_name, now + timedelta(seconds=1))
        if not rows:
            return "empty"
        channel = self.channels.get(channel_name)
        meta = loaded(rows[-1]["meta"]) or {}
        ids = [r["id"] for r in rows]
        if channel is None:
            await records.set_many(ids, status="skipped", reason="channel_unavailable")
            await self.digest_fallback(rows)
            return "skipped"
        gathered = await records.notifications([r["notification_id"] for r in rows])
        notes = [gathered[i] for i in sorted(gathered)]
        addresses = await self.sender.addresses(user_id, channel_name, meta)
        if not addresses:
            await records.set_many(ids, status="skipped", reason="no_address")
            await self.digest_fallback(rows)
            return "skipped"
        day = date.fromisoformat(meta.get("day") or now.date().isoformat())
        full = all(
            self.sender.full_text_allowed(channel_name, loaded(r["meta"]) or {}, addresses[0])
            for r in rows
        )
        title = templates.digest_title(day)
        lines = [n["body"] for n in notes] if full else []
        text = (
            templates.t("notify.digest.intro", date=day.strftime("%d.%m.%Y"))
            + "\n"
            + "\n".join(f"• {line}" for line in lines)
            if full
            else templates.t("notify.neutral.push_body")
        )
        message = Outgoing(
            delivery_id=ids[0],
            notification_id=notes[0]["id"],
            user_id=user_id,
            addresses=addresses,
            title=title,
            text=templates.email_plain(title, text, lines) if channel_name == EMAIL else text,
            html=templates.email_html(title, text, lines) if channel_name == EMAIL else "",
            data={"kind": "digest"},
        )
        rates = self.sender.rates(channel_name, addresses)
        await self.pacer.acquire(*rates)
        ticket = await self.pacer.enter(*rates)
        try:
            sent = await self.sender._send(channel, message)
        except TemporaryFailure:
            raise  # the queue retries the digest job
        except PermanentFailure as exc:
            await self.sender._switch_off(user_id, channel_name, exc.gone)
            await records.set_many(ids, status="failed", reason=exc.reason[:300])
            await self.digest_fallback(rows)
            return "failed"
        finally:
            await self.pacer.leave(ticket)
        await records.mark_digest_sent(ids, sent.provider_id, {**meta, "digest_of": len(ids)})
        return f"sent {len(ids)}"
