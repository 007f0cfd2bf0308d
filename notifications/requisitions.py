"""E-mailing the caterers their frozen requisitions (an XLSX attached), from the worker.

The requisition is frozen by the meals context at the cut-off; here it is sent once to the
caterer's address and marked sent. A crash between the send and the mark sends it again the
next minute: the same Message-ID (one per requisition) lets the caterer's mail see a repeat.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

import aiosmtplib

from backend.i18n import t
from backend.meals import requisitions
from backend.settings import Settings

log = logging.getLogger("parta.notify.requisitions")


async def send_requisitions(settings: Settings, limit: int = 50) -> int:
    """Send every frozen, unsent requisition whose caterer has an address; returns how many."""
    domain = parseaddr(settings.smtp_sender)[1].rpartition("@")[2] or "parta.local"
    sent = 0
    for row in await requisitions.unsent(limit):
        content, media, name = await requisitions.system_file(row["id"])
        day = row["date"].strftime("%d.%m.%Y")
        msg = EmailMessage()
        msg["Subject"] = t("meals.requisition.mail_subject", date=day, caterer=row["caterer_name"])
        msg["From"] = settings.smtp_sender
        msg["To"] = row["email"]
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Message-ID"] = f"<requisition-{row['id']}@{domain}>"
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(
            t("meals.requisition.mail_text", date=day, total=row["total_count"]), charset="utf-8"
        )
        maintype, subtype = media.split("/", 1)
        msg.add_attachment(content, maintype=maintype, subtype=subtype, filename=name)
        try:
            await aiosmtplib.send(
                msg,
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                username=settings.smtp_username or None,
                password=settings.smtp_password.get_secret_value() or None,
                start_tls=settings.smtp_starttls,
                timeout=20,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            log.warning("requisition %s not sent: %r", row["id"], exc)
            break  # the server is down or refuses: the next minute tries again
        await requisitions.mark_sent(row["id"], row["email"])
        sent += 1
    return sent
