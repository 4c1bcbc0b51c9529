"""Building test mails the way mail clients write them."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid


def reply_mail(
    *,
    sender: str,
    to: str,
    subject: str = "Re: [2026-0001] Nieuw bericht: Uw aangifte",
    text: str = "Hierbij de stukken.",
    quoted: str = "",
    attachments: list[tuple[str, str, bytes]] = (),
    headers: dict[str, str] | None = None,
    html: str | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    msg["Message-ID"] = make_msgid(domain="client.example")
    for name, value in (headers or {}).items():
        msg[name] = value
    body = text + ("\n\n" + quoted if quoted else "")
    if html is None:
        msg.set_content(body)
    else:
        msg.set_content(body)
        msg.add_alternative(html, subtype="html")
    for filename, ctype, data in attachments:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()
