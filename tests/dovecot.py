"""A private Dovecot IMAP server for tests, from a temporary config on a free loopback port
(the recipe in ../shared/recipes/dovecot-for-tests.md). scripts/test installs dovecot-imapd."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from .mailcatcher import free_port

CONFIG = """
instance_name = test-{port}
protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 500
first_valid_gid = 1
mail_location = maildir:~/Maildir
mail_fsync = never
namespace inbox {{
  inbox = yes
  separator = /
}}
protocol imap {{
  mail_max_userip_connections = 100
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/passwd
  default_fields = uid=65534 gid=65534 home={d}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""

USER, PASSWORD = "portal", "secret"


class Dovecot:
    def __init__(self) -> None:
        # Its own folder right under /tmp: Dovecot's users must be able to walk every parent,
        # and pytest's tmp_path parents are private to root.
        self.root = Path(tempfile.mkdtemp(prefix="loket-dovecot-"))
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
        if not Path(binary).exists():
            raise RuntimeError("Dovecot is missing: scripts/test installs dovecot-imapd")
        d = self.root
        d.mkdir(parents=True, exist_ok=True)
        os.chmod(d, 0o755)
        (d / "mail").mkdir(exist_ok=True)
        os.chown(d / "mail", 65534, 65534)
        (d / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
        (d / "dovecot.conf").write_text(CONFIG.format(d=d, port=self.port))
        self.proc = subprocess.Popen(
            [binary, "-F", "-c", str(d / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.03)
        raise RuntimeError(f"Dovecot did not start: {self.log()}")

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self, *, keep: bool = False) -> None:
        """Stop the server; ``keep`` leaves its folder, to start it again on the same port."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        if not keep:
            shutil.rmtree(self.root, ignore_errors=True)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def empty(self) -> None:
        """Remove every mail and every folder but INBOX, so one server serves test after test
        as if it were new (starting one costs a second and a half, stopping included)."""
        import imaplib

        with imaplib.IMAP4("127.0.0.1", self.port) as imap:
            imap.login(USER, PASSWORD)
            _, listed = imap.list()
            folders = [line.decode().rsplit(' "/" ', 1)[1].strip('"') for line in listed if line]
            # Deepest first: a parent cannot go while its children are there.
            for folder in sorted(folders, key=lambda name: name.count("/"), reverse=True):
                if folder.upper() != "INBOX":
                    imap.delete(f'"{folder}"')
            _, count = imap.select("INBOX")
            if int(count[0]):
                imap.store("1:*", "+FLAGS.SILENT", r"(\Deleted)")
                imap.expunge()

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        """Deliver a mail into the mailbox, as an MTA would (through IMAP APPEND)."""
        import imaplib

        with imaplib.IMAP4("127.0.0.1", self.port) as imap:
            imap.login(USER, PASSWORD)
            imap.append(folder, None, None, raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))

    def count(self, folder: str) -> int:
        import imaplib

        with imaplib.IMAP4("127.0.0.1", self.port) as imap:
            imap.login(USER, PASSWORD)
            status, data = imap.select(folder, readonly=True)
            return int(data[0]) if status == "OK" else 0
