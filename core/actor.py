"""Who is acting, and through which channel.

Every service takes an Actor. Adapters build one from the logged-in account (web session,
linked Telegram chat, verified reply address); the CLI acts as the system unless told
``--as USERNAME``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .models import Account, Channel, Language, Role


@dataclass(frozen=True)
class Actor:
    account_id: int | None
    role: Role
    channel: Channel
    client_id: int | None = None
    intermediary_id: int | None = None
    is_main: bool = False
    language: Language = Language.NL

    @classmethod
    def of(cls, account: Account, channel: Channel) -> Actor:
        return cls(
            account_id=account.id,
            role=account.role,
            channel=channel,
            client_id=account.client_id,
            intermediary_id=account.intermediary_id,
            is_main=account.is_main,
            language=account.language,
        )

    @classmethod
    def system(cls, channel: Channel = Channel.CLI) -> Actor:
        """The firm itself, acting without a person (the CLI, a worker): staff rights."""
        return cls(account_id=None, role=Role.STAFF, channel=channel)

    @property
    def is_staff(self) -> bool:
        return self.role is Role.STAFF
