"""loket secrets rotate."""

from __future__ import annotations

import argparse

from core.actor import Actor
from core.services import totpsecrets

from ..output import emit
from ..runtime import Runtime

SYSTEM = Actor.system()


async def rotate(rt: Runtime, args: argparse.Namespace) -> None:
    async with rt.db.begin() as s:
        result = await totpsecrets.rotate(s, SYSTEM, rt.settings)
    emit(
        args.json,
        {"resealed": result.resealed, "unchanged": result.unchanged},
        f"Sealed {result.resealed} stored secret(s) with the current secret key "
        f"({result.unchanged} already were).",
    )
