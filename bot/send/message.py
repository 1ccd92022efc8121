"""What a transport is given and what it answers: `Message`, `Recipient`, `SendResult`.

What it does: holds one rendered email whose per-recipient parts are still
substitution tokens (`bot.render.tokens`), the recipients with the values that fill
those tokens, and the outcome of handing one batch to a transport; and names the
`Transport` protocol every transport (outbox, sendgrid) implements.
What it does not do: render, fill tokens, or talk to any provider.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from bot.types import BatchState

# The outcomes a transport may report for one batch.
OUTCOMES = (BatchState.ACCEPTED, BatchState.FAILED, BatchState.AMBIGUOUS)
# The custom_args keys a round-up request carries. SendGrid copies custom_args onto
# each event of the message as top-level keys, which is how the event webhook finds
# the batch a `delivered` event settles.
EDITION_ARG = "edition"
BATCH_ARG = "batch"


@dataclass(frozen=True)
class Message:
    """One rendered email; per-recipient parts are tokens (headers may hold them too)."""

    subject: str
    html: str
    text: str
    headers: Mapping[str, str] = field(default_factory=dict)
    categories: tuple[str, ...] = ()
    custom_args: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Recipient:
    """One addressee and the values of the substitutions (keys: `SUBSTITUTIONS`)."""

    email: str
    name: str | None = None
    substitutions: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    """How handing one batch to a transport ended.

    `state` is ACCEPTED (the provider took every message), FAILED (it refused: the
    request can be made again once the cause is fixed) or AMBIGUOUS (the request may
    or may not have reached it: resend only when the operator asks).
    """

    state: BatchState
    message_id: str | None = None
    error: str | None = None
    attempts: int = 1
    # The cause hits every batch alike (an unwritable outbox, a refused API key, a
    # host that does not resolve): the send stops instead of trying the rest.
    fatal: bool = False

    def __post_init__(self) -> None:
        if self.state not in OUTCOMES:
            raise ValueError(f"a send result is accepted, failed or ambiguous, not {self.state}")

    @property
    def accepted(self) -> bool:
        return self.state is BatchState.ACCEPTED


class Transport(Protocol):
    """Delivers one message to a batch of recipients in one go."""

    name: str

    def send(self, message: Message, recipients: Sequence[Recipient]) -> SendResult: ...

    def close(self) -> None: ...
