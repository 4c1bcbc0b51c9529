"""Typed keys for what the web application holds."""

from __future__ import annotations

from aiohttp import web

from core.db import Database
from core.services.quarantine import MailFiler
from core.settings import Settings
from core.sms import SmsGateway
from core.storage import FileStore

SETTINGS = web.AppKey("settings", Settings)
DB = web.AppKey("db", Database)
STORE = web.AppKey("store", FileStore)
SMS = web.AppKey("sms", SmsGateway)
# Whether a Telegram bot is configured (loket/ says so): My details then offers linking a chat.
TELEGRAM = web.AppKey("telegram", bool)
# Files quarantined mail (the mail bridge's, handed in by loket/); absent: staff file by CLI.
MAIL_FILER = web.AppKey("mail_filer", MailFiler)

# Per request.
REQUEST_ID = web.RequestKey("request_id", str)  # web.observe
LIVE = web.RequestKey("live", object)  # core.services.sessions.LiveSession | None
LANG = web.RequestKey("lang", str)
# A session cookie came, but its session has ended (idle or absolute timeout, logged out).
SESSION_ENDED = web.RequestKey("session_ended", bool)
ACTOR = web.RequestKey("actor", object)  # core.actor.Actor, set by login_required
SET_SESSION = web.RequestKey("set_session", str)  # a new session id for the cookie
END_SESSION = web.RequestKey("end_session", bool)
SET_LANG = web.RequestKey("set_lang", str)
ANON_CSRF = web.RequestKey("anon_csrf", str)
NEW_ANON_CSRF = web.RequestKey("new_anon_csrf", str)
