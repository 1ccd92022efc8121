"""The outbox transport: every message written to an mbox file, so sending works offline.

What it does: for each recipient, fills the message's substitution tokens with the
recipient's values (HTML-escaped in the HTML part), builds a multipart/alternative
email (plain text, then HTML) with From, To, Subject, Date, Message-ID, Reply-To and
the message's own headers (List-Unsubscribe ...), and appends it to an mbox file
under the outbox directory: ``EDITION.mbox`` for a round-up, ``EDITION-test.mbox``
for a test copy, ``transactional.mbox`` for anything else (confirmation emails).
Appends hold the mbox lock (fcntl and dot-lock, as mail readers expect) so two
processes never interleave messages. Any mail reader opens the file.
What it does not do: deliver mail anywhere, or retry: a write that fails fails the
batch with the reason.
"""

from __future__ import annotations

import mailbox
import re
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path

from bot.clock import Clock
from bot.config import Config
from bot.render.tokens import fill
from bot.send.message import EDITION_ARG, Message, Recipient, SendResult
from bot.types import BatchState

TRANSACTIONAL = "transactional"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def mbox_name(message: Message) -> str:
    """The mbox file a message goes to (see the module docstring)."""
    edition = message.custom_args.get(EDITION_ARG)
    if not edition:
        return f"{TRANSACTIONAL}.mbox"
    stem = _UNSAFE.sub("_", edition).strip("._") or "edition"
    return f"{stem}-test.mbox" if message.custom_args.get("test") else f"{stem}.mbox"


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
    domain = newsletter.sender.email.rpartition("@")[2] or None
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
        # One open mailbox per file for the transport's life: opening one reads the
        # whole file once (mailbox's table of contents), not once per batch.
        self._boxes: dict[Path, mailbox.mbox] = {}

    def path_for(self, message: Message) -> Path:
        return self.directory / mbox_name(message)

    def send(self, message: Message, recipients: Sequence[Recipient]) -> SendResult:
        path = self.path_for(message)
        try:
            box = self._box(path)
            box.lock()
            try:
                for recipient in recipients:
                    box.add(build_email(self.config, message, recipient, self.clock))
                box.flush()
            finally:
                box.unlock()
        except (OSError, mailbox.Error) as exc:
            return SendResult(BatchState.FAILED, error=f"cannot write the outbox {path}: {exc}")
        return SendResult(BatchState.ACCEPTED, message_id=f"outbox:{path.name}")

    def _box(self, path: Path) -> mailbox.mbox:
        box = self._boxes.get(path)
        if box is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            box = mailbox.mbox(path, create=True)
            self._boxes[path] = box
        return box

    def close(self) -> None:
        boxes, self._boxes = list(self._boxes.values()), {}
        for box in boxes:
            box.close()
