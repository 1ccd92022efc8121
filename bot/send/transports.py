"""Choosing and opening a transport, and sending one transactional email.

What it does: decides which transport a send uses (the command's choice, else the
config's ``send.transport``; ``auto`` means sendgrid when ``SENDGRID_API_KEY`` is set,
else the offline outbox), opens it (``SENDGRID_API_HOST`` points sendgrid at another
host), and sends a single message such as the double opt-in confirmation through it.
What it does not do: send editions (`bot.send.runner`) or record anything.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from bot.context import Context
from bot.errors import ConfigError, SendError
from bot.send.message import Message, Recipient, Transport
from bot.send.outbox import OutboxTransport
from bot.send.sendgrid_api import DEFAULT_HOST, SendGridTransport

API_KEY_ENV = "SENDGRID_API_KEY"
HOST_ENV = "SENDGRID_API_HOST"
NAMES = ("outbox", "sendgrid")


def transport_name(configured: str, chosen: str | None, api_key: str | None) -> str:
    """The transport to use: `chosen` (a command option) wins, then the config;
    ``auto`` is sendgrid when an API key is set, else outbox."""
    name = chosen or configured
    if name == "auto":
        return "sendgrid" if api_key else "outbox"
    if name not in NAMES:
        raise ConfigError(f"unknown transport {name!r}: use one of {', '.join(NAMES)}")
    return name


def make_transport(
    ctx: Context, name: str | None = None, *, env: Mapping[str, str] | None = None
) -> Transport:
    """Open the transport `name` (or the configured one); close it when done."""
    env = os.environ if env is None else env
    api_key = (env.get(API_KEY_ENV) or "").strip() or None
    chosen = transport_name(ctx.config.send.transport, name, api_key)
    if chosen == "outbox":
        return OutboxTransport(ctx.config, Path(ctx.config.send.outbox_dir), ctx.clock)
    if api_key is None:
        raise ConfigError(
            f"the sendgrid transport needs {API_KEY_ENV} in the environment "
            "(an API key with Mail Send access); or send with --transport outbox"
        )
    host = (env.get(HOST_ENV) or "").strip() or DEFAULT_HOST
    return SendGridTransport(ctx.config, api_key, host=host)


def send_transactional(ctx: Context, message: Message, to: Recipient) -> None:
    """Send one message to one person now, through the transport `roundup send`
    would use; raises SendError saying why when it was not accepted."""
    transport = make_transport(ctx)
    try:
        result = transport.send(message, [to])
    finally:
        transport.close()
    if not result.accepted:
        raise SendError(
            f"the {transport.name} transport did not take the email to {to.email}: "
            f"{result.error or result.state.value}"
        )
