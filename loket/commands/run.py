"""loket serve."""

from __future__ import annotations

import argparse
import logging

from core.errors import ValidationError

from ..logs import configure_logging
from ..runtime import Runtime
from ..serve import COMPONENTS, serve


async def serve_command(rt: Runtime, args: argparse.Namespace) -> None:
    wanted = set(COMPONENTS)
    if args.only:
        wanted = {part.strip() for part in args.only.split(",") if part.strip()}
        unknown = wanted - set(COMPONENTS)
        if unknown or not wanted:
            raise ValidationError(
                "Unknown component(s) for --only: %(names)s; choose from %(known)s.",
                names=", ".join(sorted(unknown)) or "(none)",
                known=", ".join(COMPONENTS),
            )
    configure_logging(logging.INFO, rt.settings.log_format)
    await serve(rt, wanted)
