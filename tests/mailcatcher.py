"""A real SMTP server for tests: aiosmtpd on a free loopback port, keeping what it receives."""

from __future__ import annotations

import email
import email.policy
import socket
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Catcher:
    messages: list[EmailMessage] = field(default_factory=list)
    refuse_with: str | None = None  # e.g. "451 try later" or "550 no such user"
    # The client's address and port of each mail offered: one port, one connection.
    peers: list[object] = field(default_factory=list)

    async def handle_DATA(self, server: object, session: Session, envelope: Envelope) -> str:  # noqa: N802
        self.peers.append(session.peer)
        if self.refuse_with:
            return self.refuse_with
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(msg)  # type: ignore[arg-type]
        return "250 OK"


class SmtpServer:
    """Start and stop at will, to play a server that goes away and comes back."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.catcher = Catcher()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.catcher, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self) -> list[EmailMessage]:
        return self.catcher.messages
