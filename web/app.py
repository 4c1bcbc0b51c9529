"""The web application: ``create_app(settings, db, store, sms=gateway, telegram=True)``.

The engine and store are made by the caller (loket/), so one process can share them between
the web view, the mail bridge and the bot. So is the SMS gateway: loket/ passes one only when
an SMS provider is configured, and the web view offers text messages only then. Likewise
``telegram``: whether a bot runs for this portal, so that My details offers to link a chat;
and ``machine_posts``: routes another machine posts to (the bot's webhook), checked by their
own secret instead of a session.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from core.db import Database
from core.services.quarantine import MailFiler
from core.settings import Settings
from core.sms import SmsGateway
from core.storage import FileStore

from . import filters, middleware, observe, uploads
from .keys import DB, MAIL_FILER, SETTINGS, SMS, STORE, TELEGRAM
from .views import (
    auth,
    checklists,
    dossiers,
    health,
    inbox,
    me,
    messages,
    metrics,
    people,
    quarantine,
    staff,
    staff_dossiers,
)
from .views.staff_dossier import routes as staff_dossier_routes
from .views.upload_links import routes as upload_link_routes

HERE = Path(__file__).parent


def create_app(
    settings: Settings,
    db: Database,
    store: FileStore,
    *,
    sms: SmsGateway | None = None,
    mail_filer: MailFiler | None = None,
    telegram: bool = False,
    machine_posts: dict[str, middleware.Handler] | None = None,
) -> web.Application:
    app = web.Application(
        middlewares=[
            observe.observed,
            middleware.security_headers,
            middleware.errors,
            middleware.session,
            middleware.csrf_check,
            middleware.stored_files,
        ],
        # For forms read whole (request.post()): the limits web.uploads counts for the forms
        # it streams. (aiohttp answers 413 beyond them.)
        client_max_size=uploads.MAX_TEXT,
        client_max_fields=uploads.MAX_FIELDS,
    )
    app[SETTINGS] = settings
    app[DB] = db
    app[STORE] = store
    # Without a gateway (none configured) SMS is not offered, and nothing is queued for it.
    if sms is not None:
        app[SMS] = sms
    if mail_filer is not None:
        app[MAIL_FILER] = mail_filer
    app[TELEGRAM] = telegram
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        # Templates are read once: no stat() of every template file on the event loop.
        auto_reload=False,
    )
    env.filters["segment"] = filters.path_segment
    env.filters["local"] = filters.local_time(settings.timezone)
    for module in (health, metrics, auth, me, dossiers, messages, checklists, staff, quarantine):
        app.add_routes(module.routes)
    app.add_routes(staff_dossier_routes)
    for module in (inbox, people, staff_dossiers):
        app.add_routes(module.routes)
    app.add_routes(upload_link_routes)
    # Paths other machines post to (the bot's webhook, given by loket/), outside sessions.
    for path, handler in (machine_posts or {}).items():
        app.router.add_post(path, middleware.for_machines(handler))
    app.router.add_static("/static", HERE / "static", append_version=True)
    return app


def create_monitoring_app(settings: Settings, db: Database, store: FileStore) -> web.Application:
    """Only /metrics and /healthz: for a process that serves no web view (a worker, the mail
    reader, the bot), so that its own counters can be scraped too."""
    app = web.Application(middlewares=[observe.observed])
    app[SETTINGS] = settings
    app[DB] = db
    app[STORE] = store
    app.add_routes(health.routes)
    app.add_routes(metrics.routes)
    return app
