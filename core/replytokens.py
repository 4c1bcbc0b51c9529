"""Signed reply addresses: every notification about a dossier carries a Reply-To that names the
recipient and the dossier, signed with the secret key so that it cannot be guessed or altered.

A token reads ``a42-d7-<mac>`` (account 42, dossier 7) or ``o3-d7-<mac>`` (intermediary office 3);
a document request adds the checklist and the question: ``a42-d7-c9-q3-<mac>``.
It is lower case letters and digits only, so it survives mail systems that change case, and it
fits the plus part of an address (``reply+{token}@firm.example``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

MAC_BYTES = 10  # 80 bits: far beyond guessing within any rate a mail server allows
_TOKEN = re.compile(r"([ao])(\d{1,12})-d(\d{1,12})(?:-c(\d{1,12})-q(\d{1,4}))?-([a-z2-7]{16})")


@dataclass(frozen=True)
class ReplyTarget:
    kind: str  # "a": an account; "o": an intermediary office
    party_id: int
    dossier_id: int
    # A document request: the checklist and the upload question (its place in the template).
    checklist_id: int | None = None
    question: int | None = None

    def body(self) -> str:
        text = f"{self.kind}{self.party_id}-d{self.dossier_id}"
        if self.checklist_id is not None and self.question is not None:
            text += f"-c{self.checklist_id}-q{self.question}"
        return text


def _mac(secret: str, body: str) -> str:
    digest = hmac.new(secret.encode(), f"reply:{body}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:MAC_BYTES]).decode().lower()


def make(secret: str, target: ReplyTarget) -> str:
    if not secret:
        raise ValueError("a secret key is needed to sign reply addresses")
    body = target.body()
    return f"{body}-{_mac(secret, body)}"


def verify(secret: str, token: str) -> ReplyTarget | None:
    """The target of a token whose signature is right; None for anything else."""
    found = _TOKEN.fullmatch((token or "").strip().lower())
    if not found or not secret:
        return None
    kind, party, dossier, checklist, question, mac = found.groups()
    target = ReplyTarget(
        kind=kind,
        party_id=int(party),
        dossier_id=int(dossier),
        checklist_id=int(checklist) if checklist else None,
        question=int(question) if question else None,
    )
    if not hmac.compare_digest(mac, _mac(secret, target.body())):
        return None
    return target


def address(pattern: str, token: str) -> str:
    return pattern.replace("{token}", token)


def find_token(pattern: str, addresses: list[str]) -> str | None:
    """The token in the first of ``addresses`` that matches the reply address pattern."""
    prefix, _, suffix = pattern.partition("{token}")
    matcher = re.compile(
        re.escape(prefix.lower()) + r"([a-z0-9-]{1,64})" + re.escape(suffix.lower())
    )
    for addr in addresses:
        found = matcher.fullmatch((addr or "").strip().lower())
        if found:
            return found.group(1)
    return None
