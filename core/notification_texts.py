"""What a notification says happened, in words shared by every channel that tells it (a mail,
a chat message): the paragraph after the greeting, by kind of notification. How each channel
frames it (subject, button, link, greeting) stays with that channel."""

from __future__ import annotations

from typing import Any

from core import notifications
from core.i18n import N_
from core.models import OutboxItem

# The paragraph that says what happened; %(…)s from the item's payload.
INTROS = {
    "invitation": N_(
        "%(firm)s invites you to its client portal, where you find your dossiers, documents "
        "and messages. First confirm your email address with the link below; then you choose "
        "a password."
    ),
    "set_password": N_(
        "Use the link below to set your password. The link works once, for %(minutes)s "
        "minutes. If you did not ask for this, you can ignore this mail."
    ),
    "password_set": N_(
        "Your password has just been set. If that was not you, contact us straight away."
    ),
    "wrong_codes": N_(
        "Someone entered wrong verification codes for your account, after typing its password. "
        "Logging in is paused for a while. If it was not you, change your password straight "
        "away: whoever it was knows it."
    ),
    "new_document": N_("A new document has been published in dossier %(dossier)s: %(filename)s."),
    "new_message": N_("There is a new message for you in dossier %(dossier)s: %(subject)s."),
    "new_questionnaire": N_(
        "A checklist or questionnaire is waiting for you in dossier %(dossier)s."
    ),
    "dossier_in_treatment": N_("We have started working on your dossier %(dossier)s."),
    "report_ready": N_("The report for your dossier %(dossier)s is ready."),
    "documents_rejected": N_("Some of the documents in dossier %(dossier)s could not be accepted."),
    "documents_missing": N_("We are still missing some documents for dossier %(dossier)s."),
    "checklist_rejected": N_(
        'We have sent the checklist "%(title)s" in dossier %(dossier)s back to you: something '
        "is still missing or not right. It is open again: complete it and submit it once more."
    ),
    "checklist_approved": N_(
        'We have approved the checklist "%(title)s" in dossier %(dossier)s. Thank you: nothing '
        "more is needed for it."
    ),
    "client_message": N_("A client wrote in dossier %(dossier)s: %(subject)s."),
    "client_document": N_("A client delivered a document in dossier %(dossier)s: %(filename)s."),
    "checklist_submitted": N_(
        'A client submitted the checklist "%(title)s" in dossier %(dossier)s. It is waiting '
        "for your review: approve it, or send it back with what is missing."
    ),
    "document_received": N_("Thank you. This is what we received, and what we still need:"),
    "reminder": N_(
        "To finish your file we still need the following. You can answer in the client portal, "
        "or send a document by answering the mail that asked for it."
    ),
    "mail_not_filed": N_(
        'We received your mail "%(subject)s" but could not tell which dossier it belongs to; '
        "a colleague will look at it. Next time, answer one of our notification mails (it "
        "carries its own reply address), or write to us in the client portal."
    ),
    "attachments_left_out": N_(
        'Your mail "%(subject)s" is in your dossier %(dossier)s, but these attachments were '
        "larger than %(limit)s and could not be received. Please upload them in the client "
        "portal, or send them again in smaller parts:"
    ),
    "mail_held": N_(
        'We received your mail "%(subject)s". It could not be added to your dossier '
        "automatically, so a colleague will look at it; there is no need to send it again."
    ),
    "telegram_link": N_(
        "Someone asked in Telegram to link a chat to your account at %(firm)s. If that was "
        "you, open the link below on the phone or computer where you use Telegram, or send "
        "/start %(secret_code)s to our bot @%(bot)s. The code works once, for %(minutes)s "
        "minutes. If it was not you, ignore this mail: nothing is linked without the code."
    ),
    "telegram_unlinked": N_(
        "The Telegram chat linked to your account was unlinked with /unlink in that chat: you "
        "no longer get anything from us there. You can link Telegram again in My details. If "
        "that was not you, contact us."
    ),
    "telegram_moved": N_(
        "The Telegram chat that was linked to your account has been linked to another account "
        "with a code for that account, so it no longer receives anything for yours. If that "
        "was not you, contact us."
    ),
}

# A newly assigned checklist or questionnaire says which of the two it is (its template's kind)
# and names it; notifications queued before the payload carried the kind keep the words above.
ASSIGNED_INTROS = {
    "checklist": N_('The checklist "%(title)s" is waiting for you in dossier %(dossier)s.'),
    "questionnaire": N_('The questionnaire "%(title)s" is waiting for you in dossier %(dossier)s.'),
}

DEFAULT_INTRO = N_("There is news in your client portal.")


def title_of(payload: dict[str, Any], language: str) -> str:
    """A checklist's title from the payload: text, or {"nl": …, "en": …} in ``language``."""
    title = payload.get("title")
    if isinstance(title, dict):
        title = title.get(language) or title.get("nl") or next(iter(title.values()), "")
    return str(title).strip() if isinstance(title, str) else ""


def assigned_kind(item: OutboxItem, title: str) -> str | None:
    """ "checklist" or "questionnaire" for a newly assigned, titled one whose payload says
    which (see ASSIGNED_INTROS); None for any other mail."""
    kind = (item.payload or {}).get("template_kind")
    if item.kind == notifications.Kind.NEW_QUESTIONNAIRE.value and title:
        return kind if kind in ASSIGNED_INTROS else None
    return None
