"""Sending: the delivery ledger's driver and the transports.

- `message`: `Message`, `Recipient`, `SendResult`, the `Transport` protocol and the
  custom_args keys (`EDITION_ARG`, `BATCH_ARG`) the sender and the webhook share.
- `outbox`: the offline transport, one mbox file per edition under ``send.outbox_dir``.
- `sendgrid_api`: v3 Mail Send through the sendgrid package, with retries.
- `retry`: pure decisions on statuses and waits.
- `transports`: choosing a transport; `send_transactional` for single emails.
- `runner`: `send_edition`, the crash-safe, resumable send of an approved edition.
- `webhook`: SendGrid's signed event webhook, verified and applied once per event.

Only this package imports sendgrid. It does not render (`bot.render`) or decide an
edition's content (`bot.edition`).
"""

from __future__ import annotations

from bot.send.message import BATCH_ARG, EDITION_ARG, Message, Recipient, SendResult, Transport
from bot.send.outbox import OutboxTransport
from bot.send.sendgrid_api import SendGridTransport
from bot.send.transports import make_transport, send_transactional, transport_name

__all__ = [
    "BATCH_ARG",
    "EDITION_ARG",
    "Message",
    "OutboxTransport",
    "Recipient",
    "SendGridTransport",
    "SendResult",
    "Transport",
    "make_transport",
    "send_transactional",
    "transport_name",
]
