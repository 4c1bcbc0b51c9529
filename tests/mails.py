"""Building test mails the way mail clients write them, as the firm's receiving server hands
them over: with its Authentication-Results (our test server is ``AUTHSERV``, the
``mail_authserv_id`` of the tests that match mail by thread or subject)."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid

AUTHSERV = "mx.kantoor.example"


def passed(sender: str, authserv: str = AUTHSERV) -> str:
    """What the firm's receiving server writes for a mail whose sender's domain signed it
    (DKIM) and whose DMARC check passed: the value of an Authentication-Results header."""
    domain = getaddresses([sender])[0][1].rpartition("@")[2]
    return (
        f"{authserv}; dkim=pass (2048-bit key) header.d={domain} header.s=mail;"
        f" spf=pass smtp.mailfrom={domain}; dmarc=pass (p=quarantine) header.from={domain}"
    )


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
    verified_by: str | None = AUTHSERV,
) -> bytes:
    """A mail from ``sender``; ``verified_by`` (None: no one) vouches for the sender by its
    Authentication-Results header, as a receiving server puts it on top."""
    msg = EmailMessage()
    if verified_by is not None:
        msg["Authentication-Results"] = passed(sender, verified_by)
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
