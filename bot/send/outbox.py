"""The outbox transport: every message written to an mbox file, so sending works offline.

What it does: for each recipient, fills the message's substitution tokens with the
recipient's values (HTML-escaped in the HTML part), builds a multipart/alternative
email (plain text, then HTML) with From, To, Subject, Date, Message-ID, Reply-To and
the message's own headers (List-Unsubscribe ...), and appends it to an mbox file
under the outbox directory: ``EDITION.mbox`` for a round-up, ``EDITION-test.mbox``
for a test copy, ``transactional.mbox`` for anything else (confirmation emails).
Any mail reader opens the file.

A batch is in the mbox whole or not at all: it is written to a temporary file
first, then appended under the mbox locks (fcntl, and the ``.lock`` dot-lock mail
readers expect) and fsynced, and only then reported accepted. The dot-lock names its
holder and the append in progress (start offset and length): a lock left by a
process that has ended is taken over, and an append it left half done is cut off,
so a crash never leaves part of a batch. A write that fails part-way (a full disk)
truncates the mbox back. Each message's Message-ID carries its batch, so the mbox
itself tells whether an ambiguous batch was written (`batches_written`).
What it does not do: deliver mail anywhere, or retry.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import tempfile
import threading
import time
import uuid
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path
from typing import IO

from bot.clock import Clock
from bot.config import Config
from bot.errors import SendError
from bot.lease import Holder, is_alive, this_process
from bot.render.tokens import fill
from bot.send.message import BATCH_ARG, EDITION_ARG, Message, Recipient, SendResult
from bot.types import BatchState

TRANSACTIONAL = "transactional"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_THREADS = threading.Lock()
LOCK_WAIT = 10.0  # seconds to wait for a live holder's dot-lock before failing the batch


def mbox_name(message: Message) -> str:
    """The mbox file a message goes to (see the module docstring)."""
    edition = message.custom_args.get(EDITION_ARG)
    if not edition:
        return f"{TRANSACTIONAL}.mbox"
    return (
        f"{_stem(edition)}-test.mbox"
        if message.custom_args.get("test")
        else f"{_stem(edition)}.mbox"
    )


def _stem(edition: str) -> str:
    return _UNSAFE.sub("_", edition).strip("._") or "edition"


def batch_marker(edition: str, batch: str | int) -> str:
    """What the Message-IDs of one batch's emails end with (before the domain)."""
    return f".b{batch}.{_stem(edition)}.roundup"


def build_email(
    config: Config, message: Message, recipient: Recipient, clock: Clock
) -> EmailMessage:
    """The one email `recipient` gets: tokens filled, text and HTML alternatives."""
    newsletter = config.newsletter
    values = dict(recipient.substitutions)
    mail = EmailMessage()
    mail["From"] = formataddr((newsletter.sender.name or "", newsletter.sender.email))
    mail["To"] = formataddr((recipient.name or "", recipient.email))
    mail["Subject"] = fill(message.subject, values)
    mail["Date"] = format_datetime(clock.now())
    domain = newsletter.sender.email.rpartition("@")[2] or "localhost"
    edition, batch = message.custom_args.get(EDITION_ARG), message.custom_args.get(BATCH_ARG)
    if edition and batch:
        mail["Message-ID"] = f"<{uuid.uuid4().hex}{batch_marker(edition, batch)}@{domain}>"
    else:
        mail["Message-ID"] = make_msgid(domain=domain)
    if newsletter.reply_to:
        mail["Reply-To"] = newsletter.reply_to
    for name, value in message.headers.items():
        mail[name] = fill(value, values)
    mail.set_content(fill(message.text, values))
    mail.add_alternative(fill(message.html, values, html_escape=True), subtype="html")
    return mail


class OutboxTransport:
    """Writes messages to mbox files under `directory`; see the module docstring."""

    name = "outbox"

    def __init__(self, config: Config, directory: Path, clock: Clock) -> None:
        self.config = config
        self.directory = directory
        self.clock = clock
        self.me = this_process()

    def path_for(self, message: Message) -> Path:
        return self.directory / mbox_name(message)

    def send(self, message: Message, recipients: Sequence[Recipient]) -> SendResult:
        path = self.path_for(message)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.directory, prefix=".batch-") as staged:
                self._stage(staged, message, recipients)
                with self._locked(path) as lock:
                    _append(path, staged, lock)
        except OSError as exc:
            # The outbox is one local folder: what stops one batch being written
            # (permissions, a full disk, a file where the folder should be) stops all.
            return SendResult(
                BatchState.FAILED,
                error=f"cannot write the outbox {path}: {_reason(exc)}",
                fatal=True,
            )
        except SendError as exc:
            return SendResult(BatchState.FAILED, error=str(exc))
        return SendResult(BatchState.ACCEPTED, message_id=f"outbox:{path.name}")

    def _stage(self, staged: IO[bytes], message: Message, recipients: Sequence[Recipient]) -> None:
        # As the mailbox module writes mbox files: From_ lines quoted, headers unfolded.
        generator = BytesGenerator(staged, mangle_from_=True, maxheaderlen=0)
        for recipient in recipients:
            mail = build_email(self.config, message, recipient, self.clock)
            staged.write(f"From MAILER-DAEMON {time.asctime(time.gmtime())}\n".encode())
            generator.flatten(mail)
            staged.write(b"\n")
        staged.flush()

    @contextmanager
    def _locked(self, path: Path) -> Iterator[Path]:
        """Hold the mbox's fcntl lock and its dot-lock (taken over from a dead holder).

        fcntl locks do not exclude threads of one process (the web app sends from
        several), so a process-wide lock comes first.
        """
        with _THREADS, open(path, "ab") as box:
            _fcntl_lock(box, path)
            try:
                lock = Path(f"{path}.lock")
                self._dot_lock(lock, path)
                try:
                    yield lock
                finally:
                    lock.unlink(missing_ok=True)
            finally:
                fcntl.lockf(box, fcntl.LOCK_UN)

    def _dot_lock(self, lock: Path, path: Path) -> None:
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                if _take_stale(lock, path):
                    continue
                if time.monotonic() >= deadline:
                    raise SendError(
                        f"the outbox {path} is locked by {_lock_holder(lock)} (its lock file "
                        f"{lock.name}); that process still runs: wait for it to finish"
                    ) from None
                time.sleep(0.1)
                continue
            with os.fdopen(fd, "w") as out:
                out.write(self.me.encode() + "\n")
            return

    def batches_written(self, edition: str, batch_ids: Collection[int]) -> dict[int, int]:
        """How many emails of each batch are in the edition's mbox (the evidence for
        ambiguous batches). Taken under the locks, so no append is half done."""
        path = self.directory / f"{_stem(edition)}.mbox"
        found = dict.fromkeys(batch_ids, 0)
        if not path.exists() or not found:
            return found
        pattern = re.compile(
            rb"^message-id:\s*<[^>]*\.b(\d+)\."
            + re.escape(_stem(edition).encode())
            + rb"\.roundup@",
            re.I,
        )
        with self._locked(path), open(path, "rb") as box:
            for line in box:
                match = pattern.match(line)
                if match and int(match.group(1)) in found:
                    found[int(match.group(1))] += 1
        return found

    def close(self) -> None:
        """Nothing stays open between batches; kept for the transport protocol."""


def _append(path: Path, staged: IO[bytes], lock: Path) -> None:
    """Append the staged batch to the mbox, fsynced; on failure cut the mbox back.

    Unbuffered writes, so nothing is left in a buffer to be flushed (and fail
    again) after the mbox is cut back.
    """
    staged.seek(0)
    fd = os.open(path, os.O_RDWR)
    try:
        start = os.lseek(fd, 0, os.SEEK_END)
        separator = b"\n" if start and os.pread(fd, 1, start - 1) != b"\n" else b""
        size = staged.seek(0, os.SEEK_END) + len(separator)
        staged.seek(0)
        # The journal: a takeover of this lock knows an append may be half done.
        with open(lock, "a") as journal:
            journal.write(f"append {start} {size}\n")
            journal.flush()
            os.fsync(journal.fileno())
        try:
            _write_all(fd, separator)
            while chunk := staged.read(1 << 20):
                _write_all(fd, chunk)
            os.fsync(fd)
        except BaseException:
            os.ftruncate(fd, start)
            os.fsync(fd)
            raise
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fcntl_lock(box: IO[bytes], path: Path) -> None:
    deadline = time.monotonic() + LOCK_WAIT
    while True:
        try:
            fcntl.lockf(box, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EAGAIN) or time.monotonic() >= deadline:
                raise SendError(
                    f"the outbox {path} is locked by another process; wait for it to finish"
                ) from None
            time.sleep(0.1)


def _lock_holder(lock: Path) -> str:
    try:
        first = lock.read_text(errors="replace").splitlines()[:1]
    except OSError:
        return "another process"
    holder = Holder.parse(first[0]) if first else None
    return holder.describe() if holder else "another program"


def _take_stale(lock: Path, path: Path) -> bool:
    """Remove `lock` when no live process holds it, cutting off a half-done append.

    We hold the mbox's fcntl lock, so no process that locks as we do is writing. A
    lock naming a live holder (or one on another host) is left alone; one naming a
    dead holder, or none at all (left by a crash), is stale.
    """
    try:
        lines = lock.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return True
    holder = Holder.parse(lines[0]) if lines else None
    if holder is not None and is_alive(holder) is not False:
        return False
    for line in lines[1:]:
        parts = line.split()
        if len(parts) == 3 and parts[0] == "append" and parts[1].isdigit() and parts[2].isdigit():
            start, size = int(parts[1]), int(parts[2])
            if start < path.stat().st_size < start + size:
                os.truncate(path, start)
    lock.unlink(missing_ok=True)
    return True


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)
