"""Rendering pages with the reader's language and the values every page needs."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from core.errors import AuthenticationFailed, LoketError, TooManyAttempts
from core.i18n import N_, gettext_for, ngettext_for
from core.models import ChecklistStatus, DossierStatus, OutboxStatus
from core.services import checklists, inbound, mailstatus
from core.services.dossiers import STATUS_LABELS

from . import csrf
from .keys import LANG, LIVE, SETTINGS


def translate(request: web.Request, message: str, **params: Any) -> str:
    text = gettext_for(request.get(LANG))(message)
    return text % params if params else text


def labels(gettext: Any) -> dict[str, Any]:
    """Template helpers that show a state or kind in the reader's language, never the raw
    value (the labels are defined once, next to the services that use the states)."""

    def label(table: dict[Any, str], key: Any) -> str:
        msgid = table.get(key)
        return gettext(msgid) if msgid else str(key)

    return {
        "status_label": lambda value: gettext(STATUS_LABELS[DossierStatus(value)]),
        "checklist_status_label": lambda value: label(
            checklists.STATUS_LABELS, ChecklistStatus(value)
        ),
        "outbox_status_label": lambda value: label(mailstatus.STATUS_LABELS, OutboxStatus(value)),
        "mail_kind_label": lambda value: label(mailstatus.KIND_LABELS, str(value)),
        # Rows from before the code was stored show their English reason's first line.
        "quarantine_reason_label": lambda mail: (
            gettext(inbound.REASON_LABELS[mail.reason_code])
            if mail.reason_code in inbound.REASON_LABELS
            else (mail.reason or "").split("\n", 1)[0]
        ),
    }


# What a redirect after a form says it did (Post/Redirect/Get): the page it lands on shows it.
DONE = {
    "sent": N_("Your message has been sent."),
    "invited": N_("The invitation has been sent."),
    "added": N_("The account has been added, and an invitation is on its way."),
    "removed": N_("The account has been removed."),
    "status_set": N_("The status has been changed."),
    "step_added": N_("The step has been added."),
    "step_ticked": N_("The step has been updated."),
    "published": N_("Published; the client is told."),
    "assigned": N_("The checklist has been assigned; the client is told."),
    "doc_rejected": N_("The document has been rejected; the client is told why."),
    "approved": N_("Approved; the client is told."),
    "sent_back": N_("Sent back; the client is told why."),
    "welcome": N_("Your password is set and you are logged in. Welcome!"),
    "created": N_("Created."),
    "changed": N_("Your changes have been saved."),
    "disabled": N_("The account has been disabled: it cannot log in and gets no mail."),
    "enabled": N_("The account has been enabled again."),
}


def page(
    request: web.Request, template: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> web.Response:
    settings = request.app[SETTINGS]
    lang = request.get(LANG, "nl")
    live = request.get(LIVE)
    gettext = gettext_for(lang)
    values = {
        "_": gettext,
        **labels(gettext),
        "ngettext": ngettext_for(lang),
        "lang": lang,
        "csrf_token": csrf.token(request, settings),
        "account": live.account if live is not None and live.complete else None,
        "firm": settings.firm_name,
        "path": request.path,
        "here": request.path_qs,  # where the language switch comes back to
        "done": next((gettext(text) for key, text in DONE.items() if key in request.query), ""),
        "mail_catcher": settings.mail_catcher_dir is not None,
    }
    values.update(context or {})
    return aiohttp_jinja2.render_template(template, request, values, status=status)


def retry_after(response: web.Response, error: LoketError) -> web.Response:
    """A refusal for too many attempts says when to come back."""
    if isinstance(error, TooManyAttempts):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def refused(
    request: web.Request, template: str, error: LoketError, context: dict[str, Any]
) -> web.Response:
    """A form again with the reason it was refused: 429 when it was too many attempts, 401
    for a wrong password or code, 400 for anything else."""
    if isinstance(error, TooManyAttempts):
        status = 429
    elif isinstance(error, AuthenticationFailed):
        status = 401
    else:
        status = 400
    return retry_after(page(request, template, {**context, "error": error}, status=status), error)
