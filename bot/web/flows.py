"""What each public page does to a subscriber: pure decisions, and the operations
that carry them out against the store.

What it does: decides, from a subscriber's current status alone, what a sign-up,
a confirmation and an unsubscribe do (`signup_action`, `confirm_outcome`,
`unsubscribe_outcome`, tables of cases in the tests), checks a link's token
against the subscriber it names (`subscriber_for`), and runs each flow with an
injected `now`: `sign_up` (creates or reopens a PENDING subscriber and queues the
confirmation mail, in one transaction), `confirm`, `unsubscribe`, `save_regions`.
What it does not do: speak HTTP or render pages (the routes in `bot.web.pages`), or
send mail: `bot.send.confirmations` sends the queued mails outside the request.

Sign-up rules: a new address becomes PENDING and gets a confirmation email; a
PENDING one gets it again; an UNSUBSCRIBED or BOUNCED one is reopened as PENDING
(a new sign-up, which only its owner can confirm); an ACTIVE or COMPLAINED one is
left as it is and gets no email (someone who reported us as spam is never mailed
on a stranger's say-so). The page answers the same in every case, in about the
same time: every sign-up is one transaction that writes one row, and no mail is
sent during it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from bot import tokens
from bot.context import Context
from bot.errors import TokenError
from bot.store.confirmations import SignupAction
from bot.tokens import Purpose, TokenClaims, read_token
from bot.types import Subscriber, SubscriberStatus

__all__ = ["SignupAction"]  # defined with the store's sign-up, which applies it


class ConfirmOutcome(Enum):
    ACTIVATED = "activated"
    ALREADY_ACTIVE = "already_active"
    NOT_PENDING = "not_pending"  # unsubscribed, bounced or complained: needs a new sign-up


class UnsubscribeOutcome(Enum):
    UNSUBSCRIBED = "unsubscribed"
    ALREADY = "already"  # no longer receiving; nothing changes


def signup_action(
    current: SubscriberStatus | None,
    *,
    last_change: datetime | None = None,
    now: datetime | None = None,
    resend_after: timedelta = timedelta(0),
) -> SignupAction:
    """What a sign-up of an address in state `current` does. A pending address was
    mailed when it last changed: it is mailed again only `resend_after` later."""
    if current is None:
        return SignupAction.CREATE
    if (
        current is SubscriberStatus.PENDING
        and last_change is not None
        and now is not None
        and now - last_change < resend_after
    ):
        return SignupAction.NOTHING
    return {
        SubscriberStatus.PENDING: SignupAction.RESEND,
        SubscriberStatus.ACTIVE: SignupAction.NOTHING,
        SubscriberStatus.UNSUBSCRIBED: SignupAction.REOPEN,
        SubscriberStatus.BOUNCED: SignupAction.REOPEN,
        SubscriberStatus.COMPLAINED: SignupAction.NOTHING,
    }[current]


def confirm_outcome(current: SubscriberStatus) -> ConfirmOutcome:
    if current is SubscriberStatus.PENDING:
        return ConfirmOutcome.ACTIVATED
    if current is SubscriberStatus.ACTIVE:
        return ConfirmOutcome.ALREADY_ACTIVE
    return ConfirmOutcome.NOT_PENDING


def unsubscribe_outcome(current: SubscriberStatus) -> UnsubscribeOutcome:
    if current in (SubscriberStatus.ACTIVE, SubscriberStatus.PENDING):
        return UnsubscribeOutcome.UNSUBSCRIBED
    return UnsubscribeOutcome.ALREADY


def receiving(status: SubscriberStatus) -> bool:
    return status is SubscriberStatus.ACTIVE


@dataclass(frozen=True)
class Link:
    """A page's token, checked: who it is for."""

    subscriber: Subscriber
    claims: TokenClaims

    @property
    def id(self) -> int:
        assert self.subscriber.id is not None
        return self.subscriber.id


def subscriber_for(ctx: Context, secret: str, purpose: Purpose, token: str, now: datetime) -> Link:
    """The subscriber a token names; `TokenError` (or `TokenExpired`) otherwise.

    The token carries the address it was made for: once the subscriber's address
    changed (or the subscriber is gone) the token no longer works.
    """
    subs = ctx.config.subscriptions
    max_age = subs.confirm_max_age if purpose is Purpose.CONFIRM else subs.link_max_age
    claims = read_token(secret, purpose, token, max_age=max_age, now=now)
    ref = claims.subscriber_id
    subscriber = (
        ctx.store.get_subscriber_by_public_id(ref)
        if isinstance(ref, str)
        else ctx.store.get_subscriber_by_id(ref)
    )
    if subscriber is None or not claims.names(secret, subscriber.email):
        raise TokenError("this link is no longer valid: the address it was made for has changed")
    return Link(subscriber, claims)


def link_url(
    ctx: Context, secret: str, purpose: Purpose, subscriber: Subscriber, now: datetime
) -> str:
    """An absolute link with a fresh token under the newsletter's base URL."""
    return tokens.link_url(ctx.config, secret, purpose, subscriber, now)


def sign_up(
    ctx: Context,
    email: str,
    regions: tuple[str, ...] | None,
    now: datetime,
    source: str = "web",
) -> SignupAction:
    """Carry out a sign-up of a normalised, valid `email` (see the module docstring)."""
    resend_after = ctx.config.subscriptions.resend_after

    def decide(existing: Subscriber | None) -> SignupAction:
        return signup_action(
            existing.status if existing else None,
            last_change=existing.updated_at if existing else None,
            now=now,
            resend_after=resend_after,
        )

    return ctx.store.record_signup(email, now=now, regions=regions, source=source, decide=decide)


def confirm(ctx: Context, link: Link, now: datetime) -> ConfirmOutcome:
    """PENDING -> ACTIVE; idempotent; never brings back one who left."""
    outcome = confirm_outcome(link.subscriber.status)
    if outcome is ConfirmOutcome.ACTIVATED:
        ctx.store.set_subscriber_status(
            link.id, SubscriberStatus.ACTIVE, now=now, reason="confirmed"
        )
    return outcome


def unsubscribe(ctx: Context, link: Link, now: datetime, how: str) -> UnsubscribeOutcome:
    outcome = unsubscribe_outcome(link.subscriber.status)
    if outcome is UnsubscribeOutcome.UNSUBSCRIBED:
        ctx.store.set_subscriber_status(link.id, SubscriberStatus.UNSUBSCRIBED, now=now, reason=how)
    return outcome


def save_regions(
    ctx: Context, link: Link, regions: tuple[str, ...] | None, now: datetime
) -> Subscriber:
    return ctx.store.set_subscriber_regions(link.id, regions, now=now)


def choose_regions(
    config_regions: tuple[str, ...], scope: str | None, chosen: list[str]
) -> tuple[str, ...] | None:
    """The regions a form chose: None for every region; `ValueError` with the reason.

    ``scope="all"`` (or no scope and nothing ticked, as on the sign-up form) means
    every region; otherwise the ticked names, in the config's order, each known.
    """
    if len(chosen) > len(config_regions):
        raise ValueError("too many regions chosen")
    unknown = [name for name in chosen if name not in config_regions]
    if unknown:
        raise ValueError(f"unknown region: {unknown[0][:100]}")
    if scope == "all" or (scope is None and not chosen):
        return None
    if scope not in (None, "some"):
        raise ValueError("choose every region, or some of them")
    if not chosen:
        raise ValueError("tick at least one region, or choose every region")
    picked = set(chosen)
    ordered = tuple(name for name in config_regions if name in picked)
    return None if len(ordered) == len(config_regions) else ordered
