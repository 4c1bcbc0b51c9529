"""The SMTP/LMTP receiving endpoint (aiosmtpd) on the event loop: each mail goes through the
pipeline, and is accepted (250) only once its outcome is recorded; if even recording fails,
the sender is told to try again later (451), so the mail is not lost."""

from __future__ import annotations

import asyncio
import logging

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session

from .pipeline import Pipeline

log = logging.getLogger(__name__)
MAX_MESSAGE_SIZE = 200 * 1024 * 1024


class PipelineHandler:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.original_content or envelope.content or b""
        try:
            result = await self.pipeline.handle(bytes(raw))
        except Exception:  # the database away: the sender keeps the mail and tries again
            log.exception("inbound mail could not be recorded")
            return "451 4.3.0 Temporary failure, please try again later"
        log.info("inbound mail: %s", result.outcome)
        return "250 2.0.0 Message accepted"


async def start_endpoint(
    pipeline: Pipeline, host: str, port: int, *, lmtp: bool = False
) -> asyncio.Server:
    handler = PipelineHandler(pipeline)
    protocol = LMTP if lmtp else SMTP
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: protocol(handler, data_size_limit=MAX_MESSAGE_SIZE, hostname="loket"),
        host,
        port,
    )
