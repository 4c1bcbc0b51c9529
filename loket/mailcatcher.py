"""The demo's mail catcher: an SMTP server (aiosmtpd) on the event loop that keeps every mail
it receives as an .eml file, for staff to read in the web view."""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session


class CatchAll:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        name = f"{time.time():.6f}-{secrets.token_hex(4)}.eml"
        data = envelope.original_content or envelope.content or b""
        await asyncio.to_thread(self._write, name, bytes(data))
        return "250 Message accepted for delivery"

    def _write(self, name: str, data: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{name}.part"
        tmp.write_bytes(data)
        tmp.replace(self.folder / name)


async def start_catcher(folder: Path, host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
    handler = CatchAll(folder)
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: SMTP(handler, hostname="mailcatcher"), host, port)
