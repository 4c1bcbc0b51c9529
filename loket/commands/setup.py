"""loket init."""

from __future__ import annotations

import argparse

from sqlalchemy.engine import make_url

from core import schema
from core.actor import Actor
from core.services import totpsecrets

from ..output import emit
from ..runtime import Runtime


async def init(rt: Runtime, args: argparse.Namespace) -> None:
    before, _ = await schema.revision(rt.db.engine)
    await schema.upgrade(rt.db.engine)
    after, head = await schema.revision(rt.db.engine)
    # Secrets stored before they were sealed: a migration has no secret key, so here.
    async with rt.db.begin() as s:
        sealed = await totpsecrets.rotate(s, Actor.system(), rt.settings, plaintext_only=True)
    url = make_url(rt.settings.resolved_database_url()).render_as_string(hide_password=True)
    if before is None:
        said = f"Created the database at {url} (schema {after})."
    elif before != after:
        said = f"Upgraded the database at {url} from schema {before} to {after}."
    else:
        said = f"The database at {url} is up to date (schema {after})."
    if sealed.resealed:
        said += f" Sealed {sealed.resealed} two-step secret(s) stored in plain text."
    emit(
        args.json,
        {
            "id": after,
            "database": url,
            "revision": after,
            "previous_revision": before,
            "secrets_sealed": sealed.resealed,
        },
        said,
    )
