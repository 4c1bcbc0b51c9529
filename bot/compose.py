"""A notification from the outbox as a chat message, in the account's language: what
happened and a link into the portal, never a document's content (a document is a link
behind the login). A firm's message comes with its subject and text, as in the mail, and
its attachments as links; a reply to it in the chat goes to its dossier.

What happened is said in the words of the mail (mailbridge.compose), through the same
catalogue entries; only what is the chat's own is written here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core import notifications
from core.clock import HAPPENED_AT, firm_time
from core.i18n import N_, gettext_for
from core.models import OutboxItem
from core.notification_texts import (
    ASSIGNED_INTROS,
    DEFAULT_INTRO,
    INTROS,
    assigned_kind,
    title_of,
)
from core.notifications import Kind
from core.settings import Settings

from .render import MESSAGE_MAX, e

ATTACHMENTS = N_("Attachments (log in to download):")
OPEN = N_("Open in the client portal:")
REPLY_HERE = N_("Reply to this message to answer; your reply is added to the dossier.")
ANSWER_HERE = N_("Send /checklist to answer it here, question by question.")
CUT = N_("(The message goes on in the client portal.)")
WHEN = N_("When: %(when)s")

# The chat's own words about its link (the mail's are written to the account holder).
CHAT_INTROS = {
    Kind.TELEGRAM_UNLINKED.value: N_(
        "This chat is no longer linked to the account %(username)s at %(firm)s: it was "
        "unlinked in My details. You get nothing from us here any more; send /start to link "
        "it again."
    ),
    Kind.TELEGRAM_MOVED.value: N_(
        "The account %(username)s at %(firm)s was linked to another Telegram chat, so this "
        "chat no longer receives anything for it."
    ),
}
# After what happened, what the person can do about it here.
NEXT_STEP = {
    Kind.NEW_MESSAGE.value: REPLY_HERE,
    Kind.NEW_QUESTIONNAIRE.value: ANSWER_HERE,
}


@dataclass(frozen=True)
class ChatNotice:
    text: str  # HTML, as parse_mode HTML reads it


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def _values(item: OutboxItem, settings: Settings) -> dict[str, Any]:
    payload = item.payload or {}
    plain = {k: v for k, v in payload.items() if not isinstance(v, dict | list)}
    return _Blank(
        {
            **plain,
            "firm": settings.firm_name,
            "dossier": payload.get("dossier_number", ""),
            "title": title_of(payload, item.language),
        }
    )


def render(item: OutboxItem, settings: Settings) -> ChatNotice:
    _ = gettext_for(item.language)
    values = _values(item, settings)
    payload = item.payload or {}
    when = firm_time(payload.get(HAPPENED_AT), settings.timezone)
    if item.kind in CHAT_INTROS:
        text = _(CHAT_INTROS[item.kind]) % values
        return ChatNotice(e(text + ("\n" + _(WHEN) % {"when": when} if when else "")))
    base = settings.public_url.rstrip("/")
    assigned = assigned_kind(item, values["title"])
    intro = ASSIGNED_INTROS[assigned] if assigned else INTROS.get(item.kind, DEFAULT_INTRO)
    head = [f"<b>{e(_(intro) % values)}</b>"]
    tail: list[str] = []
    attachments = [a for a in payload.get("attachments") or [] if isinstance(a, dict)]
    if attachments:
        lines = [e(_(ATTACHMENTS))]
        for a in attachments:
            url = f"{base}/documents/{a.get('id')}/download"
            lines.append(f"• {e(a.get('filename', ''))}: {e(url)}")
        tail.append("\n".join(lines))
    tail.append(f"{e(_(OPEN))} {e(notifications.link(item, settings.public_url))}")
    if item.kind in NEXT_STEP:
        tail.append(e(_(NEXT_STEP[item.kind])))
    body = str(payload.get("body") or "").strip()
    if body:
        room = MESSAGE_MAX - len("\n\n".join(head + tail)) - 4
        if len(e(body)) > room:
            cut = e(_(CUT))
            budget = room - len(cut) - 2
            # Escaping lengthens the text: cut the plain text until its escaped form fits.
            kept = body[:budget]
            while len(e(kept)) > budget:
                kept = kept[: len(kept) - (len(e(kept)) - budget)]
            head.append(f"{e(kept.rstrip())}…\n{cut}")
        else:
            head.append(e(body))
    return ChatNotice("\n\n".join(head + tail))
