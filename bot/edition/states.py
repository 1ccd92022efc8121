"""The life of an edition: a pure transition table and the messages of refusals.

``draft -> approved -> sending -> sent``, and ``rejected``. An edit of an approved
edition is allowed and returns it to ``draft`` (the approval was bound to the
content it saw); a rejected edition can be reopened as a draft; a send that
crashed resumes from ``sending``. Everything else raises `EditionError` saying
what state the edition is in and what to do. This module does not touch the store.
"""

from __future__ import annotations

from enum import Enum

from bot.errors import EditionError
from bot.types import EditionState

DRAFT = EditionState.DRAFT
APPROVED = EditionState.APPROVED
SENDING = EditionState.SENDING
SENT = EditionState.SENT
REJECTED = EditionState.REJECTED


class Action(Enum):
    """What is done to an edition."""

    REFRESH = "refresh"  # draft again: new stories added, decisions kept
    EDIT = "edit"  # any editor change: order, pins, text, subject...
    APPROVE = "approve"
    REJECT = "reject"
    REOPEN = "reopen"  # a rejected edition becomes a draft again
    SEND = "send"  # start (or resume) sending
    SENT = "sent"  # every batch delivered


TRANSITIONS: dict[tuple[EditionState, Action], EditionState] = {
    (DRAFT, Action.REFRESH): DRAFT,
    (DRAFT, Action.EDIT): DRAFT,
    (DRAFT, Action.APPROVE): APPROVED,
    (DRAFT, Action.REJECT): REJECTED,
    (APPROVED, Action.EDIT): DRAFT,
    (APPROVED, Action.REJECT): REJECTED,
    (APPROVED, Action.SEND): SENDING,
    (SENDING, Action.SEND): SENDING,  # resuming a send that stopped half-way
    (SENDING, Action.SENT): SENT,
    (REJECTED, Action.REOPEN): DRAFT,
}

_VERBS = {
    Action.REFRESH: "refresh it",
    Action.EDIT: "edit it",
    Action.APPROVE: "approve it",
    Action.REJECT: "reject it",
    Action.REOPEN: "reopen it",
    Action.SEND: "send it",
    Action.SENT: "mark it sent",
}

_HINTS = {
    DRAFT: "approve it first",
    APPROVED: "edit it (which returns it to draft) or reject it",
    SENDING: "it is being sent; resume the send with `roundup send EDITION --resume`",
    SENT: "it has been sent and cannot change; draft next week's edition",
    REJECTED: "reopen it as a draft first",
}


def transition(state: EditionState, action: Action, key: str = "") -> EditionState:
    """The state after `action`, or EditionError if `action` is not allowed now."""
    after = TRANSITIONS.get((state, action))
    if after is None:
        raise EditionError(refusal(state, action, key))
    return after


def allowed(state: EditionState, action: Action) -> bool:
    return (state, action) in TRANSITIONS


def refusal(state: EditionState, action: Action, key: str = "") -> str:
    """Why `action` is refused in `state`, and what to do instead."""
    subject = f"edition {key}" if key else "the edition"
    return f"cannot {_VERBS[action]}: {subject} is {state.value}; {_HINTS[state]}"
