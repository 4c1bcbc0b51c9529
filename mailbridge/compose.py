"""Composing outgoing mail from an outbox item: text and HTML, in the recipient's language.

Every mail carries a Message-ID (kept across retries), a Date, and
``Auto-Submitted: auto-generated`` so that auto-responders do not answer it.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from core import notifications, replytokens
from core.clock import HAPPENED_AT, firm_time
from core.i18n import N_, gettext_for
from core.models import OutboxItem, utcnow
from core.notification_texts import (
    ASSIGNED_INTROS,
    DEFAULT_INTRO,
    INTROS,
    assigned_kind,
    title_of,
)
from core.replytokens import ReplyTarget
from core.settings import Settings

SUBJECTS = {
    "invitation": N_("Your invitation to the client portal of %(firm)s"),
    "set_password": N_("Set your password for the client portal of %(firm)s"),
    "password_set": N_("Your password for %(firm)s has been set"),
    "wrong_codes": N_("Wrong verification codes for your account at %(firm)s"),
    "new_document": N_("[%(dossier)s] A new document is ready for you"),
    "new_message": N_("[%(dossier)s] New message: %(subject)s"),
    "new_questionnaire": N_("[%(dossier)s] A checklist or questionnaire is waiting for you"),
    "dossier_in_treatment": N_("[%(dossier)s] We have started on your dossier"),
    "report_ready": N_("[%(dossier)s] Your report is ready"),
    "documents_rejected": N_("[%(dossier)s] Some documents could not be accepted"),
    "documents_missing": N_("[%(dossier)s] We are still missing some documents"),
    "checklist_rejected": N_("[%(dossier)s] Your checklist was sent back: something is missing"),
    "checklist_approved": N_("[%(dossier)s] Your checklist has been approved"),
    "client_message": N_("[%(dossier)s] Message from a client: %(subject)s"),
    "client_document": N_("[%(dossier)s] A client delivered a document"),
    "checklist_submitted": N_("[%(dossier)s] A client submitted a checklist"),
    "mail_not_filed": N_("We could not file your mail"),
    "mail_held": N_("We received your mail"),
    "attachments_left_out": N_("[%(dossier)s] Some attachments of your mail did not arrive"),
    "reminder": N_("Reminder: we are still waiting for a few things"),
    "document_received": N_("We received your document"),
    "telegram_link": N_("Your code to link Telegram to %(firm)s"),
    "telegram_unlinked": N_("Telegram is no longer linked to your account at %(firm)s"),
    "telegram_moved": N_("Your Telegram chat was linked to another account at %(firm)s"),
}

# One delivered document refused (the payload names it): what to do about it.
ONE_DOCUMENT_INTRO = N_(
    "We could not accept the document %(filename)s in dossier %(dossier)s. Please send a new "
    "file: answer this mail with it attached, or upload it in the client portal."
)

# The same paragraph when the bot's username is not known: no deep link to give.
BOTLESS_INTROS = {
    "telegram_link": N_(
        "Someone asked in Telegram to link a chat to your account at %(firm)s. If that was "
        "you, send /start %(secret_code)s to our bot in Telegram. The code works once, for "
        "%(minutes)s minutes. If it was not you, ignore this mail: nothing is linked without "
        "the code."
    ),
}

# The same paragraph for a payload without the ``title`` the one above names.
UNTITLED_INTROS = {
    "checklist_rejected": N_(
        "We have sent a checklist in dossier %(dossier)s back to you: something is still "
        "missing or not right. It is open again: complete it and submit it once more."
    ),
    "checklist_submitted": N_(
        "A client submitted a checklist in dossier %(dossier)s. It is waiting for your "
        "review: approve it, or send it back with what is missing."
    ),
}

# The firm's mails name the client where the payload does (mail queued before it did not).
NAMED_SUBJECTS = {
    "client_message": N_("[%(dossier)s] Message from %(client)s: %(subject)s"),
    "client_document": N_("[%(dossier)s] %(client)s delivered a document"),
    "checklist_submitted": N_("[%(dossier)s] %(client)s submitted a checklist"),
}
NAMED_INTROS = {
    "client_message": N_("%(client)s wrote in dossier %(dossier)s: %(subject)s."),
    "client_document": N_("%(client)s delivered a document in dossier %(dossier)s: %(filename)s."),
    "checklist_submitted": N_(
        '%(client)s submitted the checklist "%(title)s" in dossier %(dossier)s. It is waiting '
        "for your review: approve it, or send it back with what is missing."
    ),
}

# A newly assigned checklist or questionnaire says which of the two it is (its template's kind)
# and names it; mail queued before the payload carried the kind keeps the words above.
ASSIGNED_SUBJECTS = {
    "checklist": N_("[%(dossier)s] A checklist is waiting for you: %(title)s"),
    "questionnaire": N_("[%(dossier)s] A questionnaire is waiting for you: %(title)s"),
}

DEFAULT_SUBJECT = N_("A message from %(firm)s")
DEFAULT_BUTTON = N_("Open the client portal")

# A notification to an account that has never chosen a password: it need not log in to
# answer, and where its invitation is (inside this mail, or in one of its own).
FIRST_CONTACT_JOINED = N_(
    "You do not need the client portal to answer: reply to this mail, and attach any "
    "documents to your reply; we file them in your dossier. You are also invited to the "
    "client portal of %(firm)s: first confirm your email address with the link below, then "
    "you choose a password."
)
FIRST_CONTACT_SEPARATE = N_(
    "You do not need the client portal to answer: reply to this mail, and attach any "
    "documents to your reply; we file them in your dossier. Your invitation to the client "
    "portal came in a separate mail; the link below tells you how to start."
)
FIRST_CONTACT_BUTTON = N_("How to start with the client portal")

BUTTONS = {
    "invitation": N_("Confirm my email address"),
    "set_password": N_("Set my password"),
    "checklist_submitted": N_("Review the checklist"),
    "checklist_rejected": N_("Open the checklist"),
    "telegram_link": N_("Open the chat with our bot"),
}

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("mailbridge", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)


@dataclass
class Composed:
    subject: str
    text: str
    html: str


class _Safe(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def _values(item: OutboxItem, settings: Settings) -> dict[str, Any]:
    payload = item.payload or {}
    return _Safe(
        {
            **{k: v for k, v in payload.items() if not isinstance(v, dict | list)},
            "firm": settings.firm_name,
            "dossier": payload.get("dossier_number", ""),
            "title": title_of(payload, item.language),
            "client": payload.get("client_name") or "",
        }
    )


def _link(item: OutboxItem, settings: Settings) -> str:
    payload = item.payload or {}
    if payload.get("secret_link"):
        return str(payload["secret_link"])
    return notifications.link(item, settings.public_url)


def render(item: OutboxItem, settings: Settings) -> Composed:
    _ = gettext_for(item.language)
    values = _values(item, settings)
    named = bool(values["client"]) and item.kind in NAMED_SUBJECTS
    subject = _((NAMED_SUBJECTS if named else SUBJECTS).get(item.kind, DEFAULT_SUBJECT)) % values
    payload = item.payload or {}
    botless = item.kind in BOTLESS_INTROS and not payload.get("bot")
    intros = INTROS if values["title"] or item.kind not in UNTITLED_INTROS else UNTITLED_INTROS
    if named and (values["title"] or item.kind not in UNTITLED_INTROS):
        intros = NAMED_INTROS
    intro = _((BOTLESS_INTROS if botless else intros).get(item.kind, DEFAULT_INTRO)) % values
    if item.kind == "documents_rejected" and payload.get("filename"):
        intro = _(ONE_DOCUMENT_INTRO) % values
    assigned = assigned_kind(item, values["title"])
    if assigned:
        subject = _(ASSIGNED_SUBJECTS[assigned]) % values
        intro = _(ASSIGNED_INTROS[assigned]) % values
    button = _(DEFAULT_BUTTON if botless else BUTTONS.get(item.kind, DEFAULT_BUTTON))
    base = settings.public_url.rstrip("/")
    link = _link(item, settings)
    first_contact = ""
    if payload.get(notifications.FIRST_CONTACT):
        # Never a link to a login this person cannot pass: into the invitation, or to a page
        # that says where the invitation is.
        invitation = payload.get(notifications.INVITATION_LINK)
        if isinstance(invitation, str) and invitation.startswith(("http://", "https://")):
            first_contact = _(FIRST_CONTACT_JOINED) % values
            link, button = invitation, _(BUTTONS["invitation"])
        else:
            first_contact = _(FIRST_CONTACT_SEPARATE) % values
            link, button = f"{base}/welcome", _(FIRST_CONTACT_BUTTON)
    context = {
        "_": _,
        "body": payload.get("body") or "",
        "reason": str(payload.get("reason") or ""),
        "items": [str(x) for x in payload.get("items") or [] if isinstance(x, str)],
        "requests": _requests(item, settings, language=item.language),
        "attachments": [
            {"filename": a.get("filename", ""), "link": f"{base}/documents/{a.get('id')}/download"}
            for a in payload.get("attachments") or []
            if isinstance(a, dict)
        ],
        "firm": settings.firm_name,
        "name": (item.payload or {}).get("name") or "",
        "intro": intro,
        "first_contact": first_contact,
        "link": link,
        "button": button,
        "kind": item.kind,
        "when": firm_time(payload.get(HAPPENED_AT), settings.timezone),
    }
    return Composed(
        subject=subject,
        text=_env.get_template("mail/notification.txt").render(context),
        html=_env.get_template("mail/notification.html").render(context),
    )


def _requests(item: OutboxItem, settings: Settings, *, language: str) -> list[dict[str, str]]:
    """Each requested document with its own signed reply address: a scan sent there is filed
    against that very question."""
    payload = item.payload or {}
    checklist_id = payload.get("checklist_id")
    if not payload.get("requests") or item.account_id is None or item.dossier_id is None:
        return []
    out = []
    for request in payload["requests"]:
        target = ReplyTarget(
            "a", item.account_id, item.dossier_id, int(checklist_id), int(request["index"])
        )
        token = replytokens.make(settings.secret_key, target)
        label = request["label"].get(language) or request["label"].get("nl") or request["key"]
        out.append({"label": label, "address": replytokens.address(settings.reply_address, token)})
    return out


def reply_address(item: OutboxItem, settings: Settings) -> str | None:
    """The signed per-recipient, per-dossier address a reply to this mail goes to."""
    if item.dossier_id is None or not settings.secret_key:
        return None
    if item.account_id is not None:
        target = ReplyTarget("a", item.account_id, item.dossier_id)
    elif (item.payload or {}).get("intermediary_id"):
        target = ReplyTarget("o", int(item.payload["intermediary_id"]), item.dossier_id)
    else:
        return None
    return replytokens.address(
        settings.reply_address, replytokens.make(settings.secret_key, target)
    )


def compose(item: OutboxItem, settings: Settings) -> EmailMessage:
    composed = render(item, settings)
    msg = EmailMessage()
    msg["Subject"] = composed.subject
    msg["From"] = formataddr((settings.firm_name, settings.mail_from))
    msg["To"] = item.recipient
    # On the firm's clock (with its offset): a reader that shows the header as it is shows that.
    msg["Date"] = format_datetime(utcnow().astimezone(ZoneInfo(settings.timezone)))
    domain = settings.mail_from.rpartition("@")[2] or "localhost"
    msg["Message-ID"] = item.email_message_id or make_msgid(domain=domain)
    msg["Auto-Submitted"] = "auto-generated"
    reply_to = reply_address(item, settings)
    if reply_to:
        msg["Reply-To"] = formataddr((settings.firm_name, reply_to))
    msg["X-Loket-Kind"] = item.kind
    msg.set_content(composed.text)
    msg.add_alternative(composed.html, subtype="html")
    return msg
