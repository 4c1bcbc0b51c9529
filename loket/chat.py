"""`loket chat --account USERNAME`: walk a checklist in the terminal, through the same walker the
web and the bot use, so the engine can be tried without Telegram.

Type the answer; `?` shows the help, `terug`/`back` goes back, `overslaan`/`skip` skips,
`nvt`/`n/a` answers "not available" where allowed, `bestand PAD`/`file PATH` uploads a file
for a document question, `stop` ends (everything so far is saved). An optional question that
is skipped (or answered with an empty line) is not asked again; a skipped required one comes
back after the last question. Once nothing is left to ask, the chat offers to submit.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from core.actor import Actor
from core.errors import LoketError
from core.i18n import gettext_for
from core.models import Channel
from core.services import accounts, checklists
from core.services.documents import Upload
from core.storage import read_chunks

from .files import readable_file
from .output import emit
from .runtime import Runtime

BACK = {"terug", "back", "vorige"}
SKIP = {"overslaan", "skip", "volgende"}
NOT_AVAILABLE = {"nvt", "n.v.t.", "n/a", "niet beschikbaar", "not available"}
STOP = {"stop", "quit", "exit", "klaar"}
FILE = ("bestand ", "file ")


async def _ask(text: str) -> str | None:
    try:
        return await asyncio.to_thread(input, text)
    except EOFError:
        return None


async def chat(rt: Runtime, args: argparse.Namespace) -> None:
    async with rt.db.read() as s:
        account = await accounts.account_by_username(s, args.account)
        actor = Actor.of(account, Channel.CLI)
        open_ones = await checklists.actions(s, actor)
    _ = gettext_for(account.language.value)
    language = account.language.value
    if args.checklist:
        checklist_id = args.checklist
    elif open_ones:
        checklist_id = open_ones[0].id
    else:
        emit(args.json, {"id": None, "status": "nothing"}, _("There is nothing to fill in."))
        return
    say = print
    while True:
        async with rt.db.read() as s:
            loaded = await checklists.load(s, actor, checklist_id)
        if loaded.checklist.locked:
            say(_("This checklist has been submitted and is locked."))
            return
        here = checklists.current(loaded, language)
        if here is None:
            reply = await _ask(_("Everything is answered. Submit now? (yes/no) "))
            if reply is not None and reply.strip().lower() in ("ja", "j", "yes", "y"):
                try:
                    async with rt.db.begin() as s:
                        await checklists.submit(
                            s,
                            rt.store,
                            actor,
                            checklist_id,
                            firm=rt.settings.firm_name,
                            language=language,
                            timezone=rt.settings.timezone,
                        )
                except LoketError as exc:
                    say(exc.translated(_))
                    continue
                say(_("Submitted. Thank you!"))
            return
        say(f"\n[{here.number}/{here.total}] {here.section}")
        say(here.label + (" *" if here.required else ""))
        for n, (_value, label) in enumerate(here.options, start=1):
            say(f"  {n}. {label}")
        if here.document:
            offer = _("Add %(document)s here too: type file PATH.")
            say("  " + offer % {"document": here.document})
        if here.current is not None and here.current.answered:
            from core import walker

            say(
                "  ("
                + _("now")
                + ": "
                + walker.show(loaded.definition, here.key, here.current, language)
                + ")"
            )
        reply = await _ask("> ")
        if reply is None or reply.strip().lower() in STOP:
            say(_("Stopped; your answers are saved."))
            return
        text = reply.strip()
        try:
            async with rt.db.begin() as s:
                if text == "?":
                    say(
                        here.help
                        or here.section_help
                        or _("There is no extra help for this question.")
                    )
                elif text.lower() in BACK:
                    await checklists.move(s, actor, checklist_id, -1)
                elif text.lower() in SKIP:
                    await checklists.move(s, actor, checklist_id, +1)
                elif text.lower() in NOT_AVAILABLE:
                    await checklists.not_available(s, actor, checklist_id, here.key)
                elif text.lower().startswith(FILE):
                    path = readable_file(Path(text.split(" ", 1)[1].strip()))
                    upload = Upload(path.name, read_chunks(path))
                    await checklists.attach(s, rt.store, actor, checklist_id, here.key, [upload])
                else:
                    await checklists.answer(s, actor, checklist_id, here.key, text, language)
        except LoketError as exc:
            say("! " + exc.translated(_))
