"""Checklists and questionnaires on a dossier: templates, assigning, answering through the
walker on any channel, submitting (which locks it and files a PDF), and the firm's review.

Answers are saved one by one, with the position, so a client can stop anywhere and go on in
another channel.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .. import access, audit, walker
from ..actor import Actor
from ..errors import NotFound, ValidationError
from ..i18n import N_, gettext_for
from ..models import (
    Account,
    Answer,
    Channel,
    Checklist,
    ChecklistAssignee,
    ChecklistStatus,
    ChecklistTemplate,
    Client,
    Document,
    DocumentCategory,
    Dossier,
    DossierStatus,
    ReviewState,
    Role,
    utcnow,
)
from ..notifications import Kind, account_mail, mail_language, notify, notify_accounts
from ..pdf import PdfSection, render_checklist
from ..storage import FileStore
from ..templates import on_approve, parse_template
from ..walker import Given, Prompt
from . import dossiers
from .documents import Upload, store_document

OPEN_STATES = (ChecklistStatus.OPEN, ChecklistStatus.REJECTED)
# What waits for the firm: a submission to approve or send back.
REVIEW_STATES = (ChecklistStatus.SUBMITTED,)

STATUS_LABELS = {
    ChecklistStatus.OPEN: N_("To be filled in"),
    ChecklistStatus.SUBMITTED: N_("Submitted"),
    ChecklistStatus.REJECTED: N_("Sent back"),
    ChecklistStatus.APPROVED: N_("Approved"),
}


async def import_template(session: AsyncSession, actor: Actor, text: str) -> ChecklistTemplate:
    """Store a new version; checklists already assigned keep the version they were given."""
    access.require(access.can_manage_firm(actor), "Only staff may import templates.")
    definition = parse_template(text)
    latest = await session.scalar(
        select(func.max(ChecklistTemplate.version)).where(
            ChecklistTemplate.name == definition["name"]
        )
    )
    template = ChecklistTemplate(
        name=definition["name"],
        version=(latest or 0) + 1,
        kind=definition["kind"],
        title=definition["title"],
        definition=definition,
    )
    session.add(template)
    await session.flush()
    audit.record(
        session,
        actor,
        "template.import",
        subject=template,
        name=template.name,
        version=template.version,
    )
    return template


async def assign(
    session: AsyncSession,
    actor: Actor,
    *,
    number: str,
    template_name: str,
    usernames: list[str] | None = None,
    due: dt.date | None = None,
) -> Checklist:
    dossier = await access.visible_dossier(session, actor, number=number)
    access.require(access.can_manage_dossier(actor, dossier), "Only staff may assign checklists.")
    template = await session.scalar(
        select(ChecklistTemplate)
        .where(ChecklistTemplate.name == template_name)
        .order_by(ChecklistTemplate.version.desc())
        .limit(1)
    )
    if template is None:
        raise NotFound("There is no template '%(name)s'.", name=template_name)
    if usernames:
        accounts = []
        for username in usernames:
            account = await session.scalar(
                select(Account).where(func.lower(Account.username) == username.lower())
            )
            if (
                account is None
                or not account.active
                or not access.can_see_dossier(Actor.of(account, actor.channel), dossier)
            ):
                raise NotFound(
                    "There is no account '%(username)s' on this dossier.", username=username
                )
            accounts.append(account)
    else:
        accounts = await _fillers(session, dossier)
    first = walker.next_key(template.definition, {})
    checklist = Checklist(
        dossier_id=dossier.id, template_id=template.id, due_date=due, position=first
    )
    session.add(checklist)
    await session.flush()
    session.add_all(ChecklistAssignee(checklist_id=checklist.id, account_id=a.id) for a in accounts)
    dossier.updated_at = utcnow()
    audit.record(
        session,
        actor,
        "checklist.assign",
        dossier_id=dossier.id,
        subject=checklist,
        template=template.name,
        version=template.version,
    )
    await notify_accounts(
        session,
        Kind.NEW_QUESTIONNAIRE,
        dossier,
        accounts,
        subject_key=f"checklist:{checklist.id}",
        data={
            "checklist_id": checklist.id,
            "title": template.title,
            "template_kind": template.kind,  # the mail says "checklist" or "questionnaire"
            # What is needed, each with its own reply address in the mail (see compose).
            "requests": document_requests(template.definition, {}),
        },
    )
    return checklist


async def _fillers(session: AsyncSession, dossier: Dossier) -> list[Account]:
    """Who fills in a checklist given to nobody in particular: the client's accounts, or, on a
    dossier hidden from the client, the intermediary office's (core/access.py)."""
    owner = (
        Account.client_id == dossier.client_id
        if dossier.visible_to_client
        else Account.intermediary_id == dossier.intermediary_id
    )
    return list(
        await session.scalars(
            select(Account).where(owner, Account.active.is_(True)).order_by(Account.id)
        )
    )


async def _assignees(session: AsyncSession, loaded: Loaded) -> list[Account]:
    """The accounts a checklist is given to that may still open it: the ones to tell."""
    accounts = await session.scalars(
        select(Account).where(Account.id.in_(loaded.assignee_ids)).order_by(Account.id)
    )
    return [
        a
        for a in accounts
        if access.can_open_checklist(
            Actor.of(a, Channel.EMAIL), loaded.dossier, loaded.assignee_ids
        )
    ]


async def _to_tell_of_review(session: AsyncSession, loaded: Loaded) -> list[Account]:
    """Who hears that a submission was approved or sent back: its assignees, and the
    intermediary office when one of its accounts filled it in for the client (told at its
    general address, as all mail to an office)."""
    told = await _assignees(session, loaded)
    office_id = loaded.dossier.intermediary_id
    answered_by = {a.answered_by_id for a in loaded.answers.values()} - {None}
    if office_id is None or not answered_by:
        return told
    filler = await session.scalar(
        select(Account)
        .where(
            Account.id.in_(answered_by),
            Account.role == Role.INTERMEDIARY,
            Account.intermediary_id == office_id,
            Account.active.is_(True),
        )
        .order_by(Account.id)
        .limit(1)
    )
    if filler is not None and filler.id not in {a.id for a in told}:
        told.append(filler)
    return told


def document_requests(definition: dict[str, Any], given: dict[str, Given]) -> list[dict[str, Any]]:
    """The upload questions still open, by their place in the template (for reply addresses)."""
    shown = {q["key"] for q in walker.visible(definition, given)}
    return [
        {"index": index, "key": q["key"], "label": q["label"]}
        for index, (_, q) in enumerate(walker.all_questions(definition))
        if q["type"] == "upload"
        and q["key"] in shown
        and not (given.get(q["key"]) or Given()).answered
    ]


def key_at(definition: dict[str, Any], index: int) -> str:
    questions = walker.all_questions(definition)
    if not 0 <= index < len(questions):
        raise NotFound("This question was not found.")
    return questions[index][1]["key"]


@dataclass
class Loaded:
    checklist: Checklist
    template: ChecklistTemplate
    dossier: Dossier
    answers: dict[str, Answer]
    assignee_ids: set[int] = field(default_factory=set)  # the accounts it is given to

    @property
    def definition(self) -> dict[str, Any]:
        return self.template.definition

    @property
    def given(self) -> dict[str, Given]:
        return {key: _given(a) for key, a in self.answers.items()}


def _given(a: Answer) -> Given:
    """A stored answer for the walker. A row without an answer is a question the client
    passed (skipped, or sent empty), unless the firm sent it back: then it is asked again."""
    given = Given(value=a.value, not_available=a.not_available)
    if given.answered or a.review_state is ReviewState.REJECTED:
        return given
    return Given(value=a.value, skipped=True)


# Built once: every checklist page runs it.
_ANSWERS = select(Answer).where(Answer.checklist_id == bindparam("checklist_id", type_=Integer))


async def load(session: AsyncSession, actor: Actor, checklist_id: int) -> Loaded:
    """A checklist with its template and answers, for reading and for every change: only one
    ``actor`` may open (core/access.py), NotFound for any other."""
    checklist, dossier, assignee_ids = await access.visible_checklist(session, actor, checklist_id)
    template = await session.get(ChecklistTemplate, checklist.template_id)
    assert template is not None
    answers = {
        a.question_key: a for a in await session.scalars(_ANSWERS, {"checklist_id": checklist.id})
    }
    return Loaded(checklist, template, dossier, answers, assignee_ids)


def local_date(when: dt.datetime, timezone: str) -> dt.date:
    """The date on the firm's calendar at ``when`` (the server may keep UTC: a submission at
    00:30 in Amsterdam is still the day before there)."""
    return when.astimezone(ZoneInfo(timezone)).date()


def action_states(actor: Actor) -> tuple[ChecklistStatus, ...]:
    """The states in which a checklist is something for ``actor`` to do: for the firm's staff
    a submission to review, for everyone else one still to fill in."""
    return REVIEW_STATES if actor.is_staff else OPEN_STATES


async def actions(session: AsyncSession, actor: Actor) -> list[Checklist]:
    """The checklists and questionnaires waiting for the actor (the "Actions" tile): for a
    client the ones to fill in, for staff the submitted ones to review."""
    stmt = (
        select(Checklist)
        .join(Dossier, Dossier.id == Checklist.dossier_id)
        .where(access.visible_checklists(actor), Checklist.status.in_(action_states(actor)))
        .order_by(Checklist.submitted_at if actor.is_staff else Checklist.assigned_at)
    )
    return list(await session.scalars(stmt))


async def count_actions(session: AsyncSession, actor: Actor, *, cap: int = 100) -> int:
    """How many ``actions`` there are, counted up to ``cap`` (a tile shows "99+" beyond)."""
    waiting = (
        select(Checklist.id)
        .join(Dossier, Dossier.id == Checklist.dossier_id)
        .where(access.visible_checklists(actor), Checklist.status.in_(action_states(actor)))
        .limit(cap)
    )
    return await session.scalar(select(func.count()).select_from(waiting.subquery())) or 0


@dataclass
class Action:
    """A checklist waiting for someone, as a list shows it: its template (title), its dossier,
    and how far it is (answered of the questions that apply)."""

    checklist: Checklist
    template: ChecklistTemplate
    dossier: Dossier
    counts: Counts

    @property
    def title(self) -> dict[str, str]:
        return self.template.title


async def listed_actions(session: AsyncSession, actor: Actor) -> list[Action]:
    """``actions`` with what a list shows of each (title, dossier, progress), in three
    statements however many there are: for the chat's /checklist and /dossiers."""
    rows = (
        await session.execute(
            select(Checklist, ChecklistTemplate, Dossier)
            .join(Dossier, Dossier.id == Checklist.dossier_id)
            .join(ChecklistTemplate, ChecklistTemplate.id == Checklist.template_id)
            .where(access.visible_checklists(actor), Checklist.status.in_(action_states(actor)))
            .order_by(Checklist.assigned_at, Checklist.id)
        )
    ).all()
    answers: dict[int, dict[str, Answer]] = {checklist.id: {} for checklist, _, _ in rows}
    if answers:
        for a in await session.scalars(
            select(Answer).where(Answer.checklist_id.in_(list(answers)))
        ):
            answers[a.checklist_id][a.question_key] = a
    out = []
    for checklist, template, dossier in rows:
        loaded = Loaded(checklist, template, dossier, answers[checklist.id])
        out.append(Action(checklist, template, dossier, counts(loaded)))
    return out


@dataclass
class Listed:
    """A checklist in a list: the instance and the title of its template version."""

    checklist: Checklist
    title: dict[str, str]


_ON_DOSSIER: dict[Any, Any] = {}


async def on_dossier(session: AsyncSession, actor: Actor, dossier_id: int) -> list[Listed]:
    """The checklists of a dossier the actor sees (staff: all; a client: their own)."""
    await access.visible_dossier(session, actor, dossier_id=dossier_id)
    key, visible, parameters = access.visible_checklists_bound(actor)
    stmt = _ON_DOSSIER.get(key)
    if stmt is None:  # built once per kind of actor: every dossier page runs it
        stmt = _ON_DOSSIER[key] = (
            select(Checklist, ChecklistTemplate.title)
            .join(Dossier, Dossier.id == Checklist.dossier_id)
            .join(ChecklistTemplate, ChecklistTemplate.id == Checklist.template_id)
            .where(Checklist.dossier_id == bindparam("on_dossier", type_=Integer), visible)
            .order_by(Checklist.assigned_at, Checklist.id)
        )
    rows = await session.execute(stmt, {**parameters, "on_dossier": dossier_id})
    return [Listed(checklist, title) for checklist, title in rows]


async def writable(
    session: AsyncSession, actor: Actor, checklist_id: int, loaded: Loaded | None = None
) -> Loaded:
    """A checklist ``actor`` may change now: every change goes through here. NotFound for one
    they may not open; refused while it is submitted or approved (locked).

    ``loaded``: the checklist as ``load`` gave it earlier in this unit of work (a caller that
    read it to decide what to change), used instead of reading it again; who may open it is
    checked again all the same."""
    if loaded is None or loaded.checklist.id != checklist_id:
        loaded = await load(session, actor, checklist_id)
    elif not access.can_open_checklist(actor, loaded.dossier, loaded.assignee_ids):
        raise NotFound("This checklist was not found.")
    if loaded.checklist.locked or loaded.checklist.status not in OPEN_STATES:
        raise ValidationError("This checklist has been submitted and is locked.")
    return loaded


def current(loaded: Loaded, language: str) -> Prompt | None:
    """The question to show now, or None when the walk is done: every required question that
    applies is answered and every optional one answered or passed (skipped, or sent empty)."""
    key = walker.resume(loaded.definition, loaded.given, loaded.checklist.position)
    if key is None:
        return None
    return walker.prompt(loaded.definition, loaded.given, key, language)


def _save(loaded: Loaded, actor: Actor, key: str, **values: Any) -> Answer:
    answer = loaded.answers.get(key)
    if answer is None:
        answer = Answer(checklist_id=loaded.checklist.id, question_key=key, channel=actor.channel)
        loaded.answers[key] = answer
    for name, value in values.items():
        setattr(answer, name, value)
    answer.channel = actor.channel
    answer.answered_by_id = actor.account_id
    answer.updated_at = utcnow()
    if answer.review_state is ReviewState.REJECTED:
        answer.review_state = ReviewState.PENDING
    return answer


def _advance(loaded: Loaded, after: str) -> None:
    loaded.checklist.position = walker.next_key(loaded.definition, loaded.given, after=after)


async def answer(
    session: AsyncSession,
    actor: Actor,
    checklist_id: int,
    key: str,
    raw: Any,
    language: str = "nl",
    *,
    loaded: Loaded | None = None,
) -> Loaded:
    """``loaded``: as for ``writable``."""
    loaded = await writable(session, actor, checklist_id, loaded)
    value = walker.check(loaded.definition, key, raw, language)
    session.add(
        _save(
            loaded,
            actor,
            key,
            value=value,
            not_available=False,
            not_available_reason=None,
            expected_date=None,
        )
    )
    has_document = walker.takes_document(walker.question(loaded.definition, key)) and bool(
        (await filed_by_question(session, loaded)).get(key)
    )
    loaded.checklist.position = walker.after_answer(
        loaded.definition, loaded.given, key, has_document=has_document
    )
    return loaded


async def not_available(
    session: AsyncSession,
    actor: Actor,
    checklist_id: int,
    key: str,
    *,
    reason: str | None = None,
    expected: dt.date | None = None,
    loaded: Loaded | None = None,
) -> Loaded:
    """``loaded``: as for ``writable``."""
    loaded = await writable(session, actor, checklist_id, loaded)
    q = walker.question(loaded.definition, key)
    if not q.get("allow_not_available"):
        raise ValidationError('For this question "not available" is not an option.')
    session.add(
        _save(
            loaded,
            actor,
            key,
            value=None,
            not_available=True,
            not_available_reason=(reason or "").strip()[:500] or None,
            expected_date=expected,
        )
    )
    _advance(loaded, key)
    return loaded


async def attach(
    session: AsyncSession,
    store: FileStore,
    actor: Actor,
    checklist_id: int,
    key: str,
    uploads: list[Upload],
) -> Loaded:
    """Documents for an upload question: filed under Delivered by me, and the answer. For a
    question with a document beside its answer (an amount with "the annual statement"), filed
    with that answer, which stays as it is; the walk stays at the question until it has one."""
    loaded = await writable(session, actor, checklist_id)
    q = walker.question(loaded.definition, key)
    if not walker.takes_files(q):
        raise ValidationError("This question is answered with text, not with a document.")
    if not uploads:
        raise ValidationError("Choose at least one file.")
    if q["type"] != "upload":
        await _file_beside(session, store, actor, loaded, key, uploads)
        return loaded
    existing = loaded.answers.get(key)
    value = dict(existing.value) if existing and isinstance(existing.value, dict) else {}
    ids, names = list(value.get("documents", [])), list(value.get("filenames", []))
    answer_row = _save(loaded, actor, key, value=value, not_available=False)
    session.add(answer_row)
    await session.flush()
    for document in await _file_with(session, store, actor, loaded, answer_row, uploads):
        ids.append(document.id)
        names.append(document.filename)
    answer_row.value = {"documents": ids, "filenames": names}
    _advance(loaded, key)
    return loaded


async def _file_with(
    session: AsyncSession,
    store: FileStore,
    actor: Actor,
    loaded: Loaded,
    row: Answer,
    uploads: list[Upload],
) -> list[Document]:
    """The files, under Delivered by me, each filed with the answer ``row``."""
    return [
        await store_document(
            session,
            store,
            actor,
            loaded.dossier,
            upload,
            DocumentCategory.DELIVERED,
            answer_id=row.id,
        )
        for upload in uploads
    ]


async def _file_beside(
    session: AsyncSession,
    store: FileStore,
    actor: Actor,
    loaded: Loaded,
    key: str,
    uploads: list[Upload],
) -> None:
    existing = loaded.answers.get(key)
    if existing is None:
        # The document before the answer: a row to file it with, still to be answered.
        existing = _save(loaded, actor, key, value=None, not_available=False)
        session.add(existing)
        await session.flush()
    await _file_with(session, store, actor, loaded, existing, uploads)
    if loaded.given[key].answered:  # the answer was there already: the walk goes on
        loaded.checklist.position = walker.after_answer(
            loaded.definition, loaded.given, key, has_document=True
        )


async def filed_by_question(session: AsyncSession, loaded: Loaded) -> dict[str, list[Document]]:
    """The documents filed with each answer (an upload question's, or beside an answer), by
    question."""
    rows = {a.id: key for key, a in loaded.answers.items() if a.id is not None}
    if not rows:
        return {}
    out: dict[str, list[Document]] = {}
    for doc in await session.scalars(
        select(Document).where(Document.answer_id.in_(list(rows))).order_by(Document.id)
    ):
        out.setdefault(rows[doc.answer_id], []).append(doc)
    return out


async def move(
    session: AsyncSession,
    actor: Actor,
    checklist_id: int,
    offset: int,
    *,
    loaded: Loaded | None = None,
) -> Loaded:
    """Back (-1) or skip (+1). Skipping an optional question without an answer is stored (an
    answer without a value): it has been seen and is not asked again. A skipped required
    question is asked again once the walk has gone round; skipping the last question goes
    on to what is still to ask, or to the end. ``loaded``: as for ``writable``."""
    loaded = await writable(session, actor, checklist_id, loaded)
    here = current(loaded, "nl")
    if offset > 0 and here is not None:
        _pass(session, loaded, actor, here)
    loaded.checklist.position = walker.step(
        loaded.definition, loaded.given, here.key if here else None, offset
    )
    return loaded


def _pass(session: AsyncSession, loaded: Loaded, actor: Actor, here: Prompt) -> None:
    """An optional question passed without an answer is stored so: seen, not asked again."""
    given = loaded.given.get(here.key)
    if not here.required and (given is None or not (given.answered or given.skipped)):
        session.add(_save(loaded, actor, here.key, value=None, not_available=False))


async def skip(
    session: AsyncSession, actor: Actor, checklist_id: int, *, loaded: Loaded | None = None
) -> Loaded:
    """Skip the current question and go on as after an answer: to the next question still
    to ask (a chat asks only those), not to the next in order as ``move`` does, which may
    have its answer already. A skipped optional question is stored as passed; a required one
    comes back once the walk has gone round. ``loaded``: as for ``writable``."""
    loaded = await writable(session, actor, checklist_id, loaded)
    here = current(loaded, "nl")
    if here is not None:
        _pass(session, loaded, actor, here)
        _advance(loaded, here.key)
    return loaded


def summary(loaded: Loaded, language: str) -> list[PdfSection]:
    given = loaded.given
    shown = {q["key"] for q in walker.visible(loaded.definition, given)}
    out = []
    for section in loaded.definition["sections"]:
        rows = [
            (
                (q["label"].get(language) or q["label"]["nl"]),
                walker.show(loaded.definition, q["key"], given.get(q["key"]), language),
            )
            for q in section["questions"]
            if q["key"] in shown
        ]
        if rows:
            out.append(PdfSection(section["title"].get(language) or section["title"]["nl"], rows))
    return out


async def submit(
    session: AsyncSession,
    store: FileStore,
    actor: Actor,
    checklist_id: int,
    *,
    firm: str,
    language: str = "nl",
    timezone: str = "Europe/Amsterdam",
) -> Loaded:
    """Check completeness, lock, file the PDF under Delivered by me, tell the handler.
    ``timezone``: the firm's, for the date on the PDF."""
    loaded = await writable(session, actor, checklist_id)
    missing = walker.missing_required(loaded.definition, loaded.given)
    if missing:
        labels = [
            walker.prompt(loaded.definition, loaded.given, key, language).label for key in missing
        ]
        raise ValidationError(
            "Some questions still need an answer: %(questions)s",
            questions="; ".join(labels[:10]) + (" …" if len(labels) > 10 else ""),
        )
    _ = gettext_for(language)
    client = await session.get(Client, loaded.dossier.client_id)
    title = loaded.template.title.get(language) or loaded.template.title["nl"]
    pdf = await asyncio.to_thread(
        render_checklist,
        firm=firm,
        title=title,
        dossier=loaded.dossier.number,
        client=client.name if client else "",
        date_text=local_date(utcnow(), timezone).strftime("%d-%m-%Y"),
        labels={"dossier": _("Dossier"), "client": _("Client"), "date": _("Date")},
        sections=summary(loaded, language),
    )
    name = f"{loaded.template.name}-{loaded.dossier.number}.pdf".replace("/", "-")
    filed = await store_document(
        session,
        store,
        actor,
        loaded.dossier,
        Upload(name, None, "application/pdf", stored=await store.put_bytes(pdf)),
        DocumentCategory.DELIVERED,
        checklist_id=checklist_id,
    )
    await _replace_earlier_pdfs(session, checklist_id, filed)
    loaded.checklist.status = ChecklistStatus.SUBMITTED
    loaded.checklist.locked = True
    loaded.checklist.submitted_at = utcnow()
    loaded.checklist.submitted_channel = actor.channel
    audit.record(
        session, actor, "checklist.submit", dossier_id=loaded.dossier.id, subject=loaded.checklist
    )
    await notify(
        session,
        Kind.CHECKLIST_SUBMITTED,
        loaded.dossier,
        subject_key=f"checklist:{checklist_id}:submitted:{loaded.checklist.submitted_at.isoformat()}",
        data={"checklist_id": checklist_id, "title": loaded.template.title},
        exclude_account_id=actor.account_id,
    )
    return loaded


async def current_pdf(session: AsyncSession, loaded: Loaded) -> Document | None:
    """The PDF of the checklist's latest submission (earlier ones were replaced by it)."""
    return await session.scalar(
        select(Document)
        .where(Document.checklist_id == loaded.checklist.id, Document.replaced_by_id.is_(None))
        .order_by(Document.id.desc())
        .limit(1)
    )


async def _replace_earlier_pdfs(
    session: AsyncSession, checklist_id: int, current: Document
) -> None:
    """The new PDF is the current one: earlier ones stay in the history, marked replaced."""
    await session.execute(
        update(Document)
        .where(
            Document.checklist_id == checklist_id,
            Document.id != current.id,
            Document.replaced_by_id.is_(None),
        )
        .values(replaced_by_id=current.id)
        .execution_options(synchronize_session=False)
    )


async def approve(session: AsyncSession, actor: Actor, checklist_id: int) -> Loaded:
    """Approve a submission: what the template's ``on_approve`` says happens to the dossier
    (its status, progress steps ticked), and the people it was given to are told, in one mail
    that also says when the dossier was taken into treatment by it."""
    loaded = await load(session, actor, checklist_id)
    access.require(access.can_manage_dossier(actor, loaded.dossier), "Only staff may review.")
    if loaded.checklist.status is not ChecklistStatus.SUBMITTED:
        raise ValidationError("Only a submitted checklist can be reviewed.")
    loaded.checklist.status = ChecklistStatus.APPROVED
    loaded.checklist.reviewed_at = utcnow()
    for a in loaded.answers.values():
        a.review_state = ReviewState.ACCEPTED
    then = on_approve(loaded.definition)
    moved = None
    if then["status"] is not None:
        # Told in the approval mail below, not in a second one about the status.
        moved = await dossiers.change_status(
            session, actor, loaded.dossier, DossierStatus(then["status"]), notify_client=False
        )
    ticked = await dossiers.tick_titled(session, actor, loaded.dossier, then["steps"])
    audit.record(
        session,
        actor,
        "checklist.approve",
        dossier_id=loaded.dossier.id,
        subject=loaded.checklist,
        status=moved.value if moved else None,
        steps=ticked,
    )
    await notify_accounts(
        session,
        Kind.CHECKLIST_APPROVED,
        loaded.dossier,
        await _to_tell_of_review(session, loaded),
        subject_key=f"checklist:{checklist_id}:approved:{loaded.checklist.reviewed_at.isoformat()}",
        data={
            "checklist_id": checklist_id,
            "title": loaded.template.title,
            **({"status": moved.value} if moved else {}),
        },
    )
    return loaded


async def reject(
    session: AsyncSession,
    actor: Actor,
    checklist_id: int,
    *,
    reason: str,
    questions: dict[str, str] | None = None,
) -> Loaded:
    """Send it back: unlocked, with a reason on the whole, on single questions, or both (one
    of them is enough). The people it was given to are told, with the reasons."""
    loaded = await load(session, actor, checklist_id)
    access.require(access.can_manage_dossier(actor, loaded.dossier), "Only staff may review.")
    if loaded.checklist.status is not ChecklistStatus.SUBMITTED:
        raise ValidationError("Only a submitted checklist can be reviewed.")
    reason = (reason or "").strip()
    per_question = {k: why.strip() for k, why in (questions or {}).items() if why.strip()}
    if not reason and not per_question:
        raise ValidationError(
            "Say what is missing or wrong: on the whole, or at a question.", field="reason"
        )
    first = None
    for key, why in per_question.items():
        walker.question(loaded.definition, key)
        row = loaded.answers.get(key) or _save(loaded, actor, key, value=None)
        row.review_state = ReviewState.REJECTED
        row.review_reason = why[:1000]
        session.add(row)
        first = first or key
    loaded.checklist.status = ChecklistStatus.REJECTED
    loaded.checklist.locked = False
    loaded.checklist.review_reason = reason[:2000] or None
    loaded.checklist.reviewed_at = utcnow()
    loaded.checklist.position = first or walker.next_key(loaded.definition, {})
    audit.record(
        session,
        actor,
        "checklist.reject",
        dossier_id=loaded.dossier.id,
        subject=loaded.checklist,
        reason=reason[:200],
        questions=sorted(per_question),
    )
    told = await _to_tell_of_review(session, loaded)
    # Each recipient reads the questions in their own language: one mail per language.
    for language in sorted({mail_language(a) for a in told}) or ["nl"]:
        await notify_accounts(
            session,
            Kind.CHECKLIST_REJECTED,
            loaded.dossier,
            [a for a in told if mail_language(a) == language],
            subject_key=f"checklist:{checklist_id}:rejected:{loaded.checklist.reviewed_at.isoformat()}",
            data={
                "checklist_id": checklist_id,
                "title": loaded.template.title,
                "reason": reason[:500],
                "items": [
                    f"{_label(loaded, key, language)}: {why[:300]}"
                    for key, why in per_question.items()
                ],
            },
        )
    return loaded


def _label(loaded: Loaded, key: str, language: str) -> str:
    return walker.prompt(loaded.definition, loaded.given, key, language).label


@dataclass
class SectionForm:
    """What a person sent for one section of the web form."""

    values: dict[str, Any]  # question key -> raw text (or list for multiple choice)
    not_available: dict[str, tuple[str | None, dt.date | None]]  # key -> (reason, expected)
    files: dict[str, list[Upload]]  # upload question key -> files


async def save_section(
    session: AsyncSession,
    store: FileStore,
    actor: Actor,
    checklist_id: int,
    section_index: int,
    form: SectionForm,
    language: str,
) -> dict[str, ValidationError]:
    """Save what is right in one section; return the errors of the rest, by question.

    Each answer is saved on its own (a savepoint), so one wrong answer does not lose the
    others. Empty fields leave earlier answers as they are.
    """
    loaded = await writable(session, actor, checklist_id)
    sections = loaded.definition["sections"]
    if not 0 <= section_index < len(sections):
        raise NotFound("This part of the checklist does not exist.")
    errors: dict[str, ValidationError] = {}
    for q in sections[section_index]["questions"]:
        key = q["key"]
        try:
            async with session.begin_nested():
                if key in form.not_available:
                    reason, expected = form.not_available[key]
                    await not_available(
                        session, actor, checklist_id, key, reason=reason, expected=expected
                    )
                elif q["type"] == "upload":
                    if form.files.get(key):
                        await attach(session, store, actor, checklist_id, key, form.files[key])
                else:
                    raw = form.values.get(key)
                    cleared = raw == [] and key in loaded.answers  # every box unticked
                    if raw not in (None, "", []) or cleared:
                        await answer(session, actor, checklist_id, key, raw, language)
                    if form.files.get(key) and walker.takes_document(q):
                        await attach(session, store, actor, checklist_id, key, form.files[key])
        except ValidationError as exc:
            errors[key] = exc
    return errors


def new_questions(loaded: Loaded, section_index: int, shown: Iterable[str]) -> list[str]:
    """The questions of one section that apply now but were not among ``shown``, the ones on
    the form the person just filled in: an answer there made them appear (``show_if``), so
    the person should see that section again, with them, before going on."""
    sections = loaded.definition["sections"]
    if not 0 <= section_index < len(sections):
        return []
    seen = set(shown)
    keys = walker.visible_in_section(loaded.definition, loaded.given, section_index)
    return [key for key in keys if key not in seen]


@dataclass(frozen=True)
class Counts:
    """How far a checklist is, in words that do not look like going back when follow-up
    questions appear (no fraction whose total grows), with optional questions apart so that
    one left open does not make a finished checklist look unfinished."""

    answered: int  # every question that applies and has an answer
    to_go: int  # required questions that apply and have none yet
    optional_open: int  # optional questions that apply and were left open


def counts(loaded: Loaded) -> Counts:
    given = loaded.given
    answered = to_go = optional_open = 0
    for q in walker.visible(loaded.definition, given):
        if (given.get(q["key"]) or Given()).answered:
            answered += 1
        elif q.get("required", True):
            to_go += 1
        else:
            optional_open += 1
    return Counts(answered, to_go, optional_open)


async def file_requested_document(
    session: AsyncSession,
    store: FileStore,
    actor: Actor,
    checklist_id: int,
    question_index: int,
    uploads: list[Upload],
) -> Loaded:
    """A scan sent to a question's own reply address: filed against that question, which is
    then answered, and the client gets a short note of what was filed and what is missing."""
    loaded = await load(session, actor, checklist_id)
    key = key_at(loaded.definition, question_index)
    loaded = await attach(session, store, actor, checklist_id, key, uploads)
    account = await session.get(Account, actor.account_id) if actor.account_id else None
    if account is not None:
        language = account.language.value
        label = walker.prompt(loaded.definition, loaded.given, key, language).label
        _ = gettext_for(language)
        names = ", ".join(u.filename or "?" for u in uploads)
        received, needed = _("Received"), _("Still needed")
        lines = [f"{received}: {names} — {label}"]
        for missing in walker.missing_required(loaded.definition, loaded.given):
            still = walker.prompt(loaded.definition, loaded.given, missing, language).label
            lines.append(f"{needed}: {still}")
        account_mail(
            session,
            Kind.DOCUMENT_RECEIVED,
            account,
            data={"items": lines},
            key=f"{checklist_id}:{key}:{utcnow().isoformat()}",
        )
    return loaded


async def latest_templates(session: AsyncSession, actor: Actor) -> list[ChecklistTemplate]:
    """The newest version of every template, by name: what staff can assign."""
    access.require(access.can_manage_firm(actor), "Only staff may assign checklists.")
    newest = (
        select(ChecklistTemplate.name, func.max(ChecklistTemplate.version).label("version"))
        .group_by(ChecklistTemplate.name)
        .subquery()
    )
    return list(
        await session.scalars(
            select(ChecklistTemplate)
            .join(
                newest,
                (newest.c.name == ChecklistTemplate.name)
                & (newest.c.version == ChecklistTemplate.version),
            )
            .order_by(ChecklistTemplate.name)
        )
    )


async def delivered_with(session: AsyncSession, loaded: Loaded) -> list[Document]:
    """The documents delivered as answers to this checklist, in the order of its questions
    (for review beside the answers), each with its review state."""
    ids = [a.id for a in loaded.answers.values() if a.id is not None]
    if not ids:
        return []
    order = {
        key: i
        for i, (_, q) in enumerate(walker.all_questions(loaded.definition))
        for key in [q["key"]]
    }
    by_answer = {a.id: order.get(a.question_key, 0) for a in loaded.answers.values()}
    docs = list(await session.scalars(select(Document).where(Document.answer_id.in_(ids))))
    return sorted(docs, key=lambda d: (by_answer.get(d.answer_id, 0), d.id))
