"""``loket export --account U``: a zip of everything held about the person, with a readable
index in their language, their documents, and nothing of other clients."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from core.db import Database
from core.models import Account, Language
from core.services import documents, export
from core.services.documents import Upload
from core.storage import LocalFileStore, aiter_bytes
from loket.export import write_export

from .cli_in_process import loket_with_dossier
from .conftest import SYSTEM, Firm


async def test_an_export_holds_what_the_person_may_see_and_nothing_else(
    db: Database, firm: Firm, store: LocalFileStore, tmp_path: Path
) -> None:
    async with db.begin() as s:
        for number, content in (("2026-0001", b"%PDF aangifte"), ("2026-0100", b"%PDF bv")):
            await documents.publish_document(
                s,
                store,
                SYSTEM,
                number=number,
                upload=Upload(f"{number}.pdf", aiter_bytes(content)),
            )
        (await s.get(Account, firm.alice.id)).phone = "+31612345678"
    async with db.read() as s:
        data = await export.gather(s, SYSTEM, "alice")
    target = tmp_path / "alice.zip"
    assert await write_export(data, store, target, firm="Kantoor Test") == 1

    with zipfile.ZipFile(target) as zf:
        held = json.loads(zf.read("data.json"))
        index = zf.read("index.html").decode()
        [file] = [n for n in zf.namelist() if n.startswith("documents/")]
        assert zf.read(file) == b"%PDF aangifte"
    assert [d["number"] for d in held["dossiers"]] == ["2026-0001", "2026-0002"]
    assert held["account"]["phone"] == "+31612345678" and held["account"]["username"] == "alice"
    assert "password_hash" not in held["account"] and "totp_secret" not in held["account"]
    assert [d["filename"] for d in held["documents"]] == ["2026-0001.pdf"]
    assert held["client"]["name"] == "Alice de Vries"
    assert "Uw gegevens bij Kantoor Test" in index and f"href='{file}'" in index

    async with db.begin() as s:
        (await s.get(Account, firm.bv_main.id)).language = Language.EN
    async with db.read() as s:
        data = await export.gather(s, SYSTEM, "bakkerij")
    await write_export(data, store, tmp_path / "bv.zip", firm="Kantoor Test")
    with zipfile.ZipFile(tmp_path / "bv.zip") as zf:
        assert "Your data at Kantoor Test" in zf.read("index.html").decode()
        assert [n for n in zf.namelist() if n.startswith("documents/")] == [
            "documents/2-2026-0100.pdf"
        ]


def test_loket_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    main = loket_with_dossier(tmp_path, monkeypatch)
    capsys.readouterr()
    target = tmp_path / "alice.zip"
    assert main(["export", "--account", "alice", str(target), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["dossiers"] == 1
    assert main(["export", "--account", "alice", str(target)]) == 1
    assert "exists already" in capsys.readouterr().err
    assert main(["export", "--account", "niemand", str(tmp_path / "x.zip")]) == 1
