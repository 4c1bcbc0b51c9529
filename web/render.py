"""Rendering pages with the reader's language and the values every page needs."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from core.i18n import gettext_for, ngettext_for
from core.models import DossierStatus
from core.services.dossiers import STATUS_LABELS

from . import csrf
from .keys import LANG, LIVE, SETTINGS


def translate(request: web.Request, message: str, **params: Any) -> str:
    text = gettext_for(request.get(LANG))(message)
    return text % params if params else text


def page(
    request: web.Request, template: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> web.Response:
    settings = request.app[SETTINGS]
    lang = request.get(LANG, "nl")
    live = request.get(LIVE)
    gettext = gettext_for(lang)
    values = {
        "_": gettext,
        "status_label": lambda value: gettext(STATUS_LABELS[DossierStatus(value)]),
        "ngettext": ngettext_for(lang),
        "lang": lang,
        "csrf_token": csrf.token(request, settings),
        "account": live.account if live is not None and live.complete else None,
        "firm": settings.firm_name,
        "path": request.path,
        "mail_catcher": settings.mail_catcher_dir is not None,
    }
    values.update(context or {})
    return aiohttp_jinja2.render_template(template, request, values, status=status)
