"""A one-time web link to upload the file for one checklist question.

The Bot API lets a bot download files of at most 20 MB; a client who sends a larger scan in
the chat gets such a link instead of an error. The link is the credential (the person may
never have set a password): it names the account, the checklist and the question, works once,
for ``LINK_HOURS``, and a newer link for the same question replaces it. Only its digest is
stored (core/tokens.py). The files are filed as that account, through the web, exactly as the
question's file input on the checklist page would file them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession

from .. import audit, tokens, walker
from ..actor import Actor
from ..errors import LinkExpired, NotFound, ValidationError
from ..models import Account, Channel
from ..settings import Settings
from ..storage import FileStore
from . import checklists
from .documents import Upload

LINK_HOURS = 24
PATH = "/upload/"


class Target(NamedTuple):
    """Whose upload a link is for, and where it goes."""

    account: Account
    checklist_id: int
    question_key: str

    @property
    def actor(self) -> Actor:
        # The file comes in through the web page, so that is its channel.
        return Actor.of(self.account, Channel.WEB)


def link(settings: Settings, raw: str) -> str:
    return settings.public_url.rstrip("/") + PATH + raw


async def issue_upload_link(
    session: AsyncSession, settings: Settings, actor: Actor, *, checklist_id: int, question_key: str
) -> str:
    """The absolute URL of a new upload link for a question of ``actor``'s own checklist.

    NotFound for a checklist they may not open (or an unknown question), ValidationError for
    a locked checklist or a question that takes no file. An older link for the same question
    dies; links for other questions stay."""
    loaded = await checklists.writable(session, actor, checklist_id)
    if walker.question(loaded.definition, question_key)["type"] != "upload":
        raise ValidationError("This question is answered with text, not with a document.")
    account = await session.get(Account, actor.account_id) if actor.account_id else None
    if account is None or not account.active:
        raise NotFound("There is no such account.")
    raw = await tokens.issue(
        session,
        account,
        tokens.UPLOAD_LINK,
        dt.timedelta(hours=LINK_HOURS),
        data={"checklist_id": checklist_id, "question": question_key},
        scope=("checklist_id", "question"),
    )
    audit.record(
        session,
        actor,
        "checklist.upload_link",
        dossier_id=loaded.dossier.id,
        subject=loaded.checklist,
        question=question_key,
    )
    return link(settings, raw)


def _target(token_data: dict, account: Account | None) -> Target:
    if account is None or not account.active:
        raise LinkExpired("This link is no longer valid.")
    return Target(account, int(token_data["checklist_id"]), str(token_data["question"]))


async def upload_link_target(session: AsyncSession, raw: str) -> Target:
    """The live link's account, checklist and question; LinkExpired for a link that is
    unknown, used, replaced, expired, or whose account was disabled."""
    token = await tokens.find(session, raw, tokens.UPLOAD_LINK)
    return _target(token.data, await session.get(Account, token.account_id))


@dataclass
class Opened:
    """What the link's page shows: the checklist and the question in ``language``, and why
    nothing can be added now (``refused``: the checklist was submitted meanwhile), if so."""

    target: Target
    loaded: checklists.Loaded
    prompt: walker.Prompt
    language: str
    refused: ValidationError | None


async def open_upload_link(session: AsyncSession, raw: str, language: str | None = None) -> Opened:
    """The link's page, in ``language`` or else in its account's language."""
    target = await upload_link_target(session, raw)
    language = language or target.account.language.value
    loaded = await checklists.load(session, target.actor, target.checklist_id)
    refused = None
    try:
        await checklists.writable(session, target.actor, target.checklist_id)
    except ValidationError as exc:
        refused = exc
    prompt = walker.prompt(loaded.definition, loaded.given, target.question_key, language)
    return Opened(target, loaded, prompt, language, refused)


@dataclass
class Received:
    target: Target
    loaded: checklists.Loaded
    filenames: list[str]  # as filed, of this upload only


async def upload_with_link(
    session: AsyncSession, store: FileStore, raw: str, uploads: list[Upload]
) -> Received:
    """File ``uploads`` for the link's question, as its account, and use the link up.

    All in the caller's unit of work: a refusal (no files, the checklist locked meanwhile)
    rolls the use back too, so the link still works; of two requests racing with one link,
    only one files anything."""
    token = await tokens.consume(session, raw, tokens.UPLOAD_LINK)
    target = _target(token.data, await session.get(Account, token.account_id))
    loaded = await checklists.attach(
        session, store, target.actor, target.checklist_id, target.question_key, uploads
    )
    # attach adds this upload's documents after those sent before.
    filed = loaded.answers[target.question_key].value["filenames"]
    return Received(target, loaded, filed[len(filed) - len(uploads) :])
