"""Sending an approved edition to every active subscriber exactly once.

What it does: checks the edition may be sent (approved, or ``sending`` with
``resume``), takes the store lease ``send:EDITION`` (a second send of the same
edition is refused, naming who holds it; the lease is renewed batch by batch),
moves the edition to ``sending``, plans the delivery ledger once (every active
subscriber, streamed page by page, grouped by region set; region sets the edition
leaves empty are skipped and counted), renders once per region set, and sends batch
after batch: each batch is claimed ``in_flight`` and committed before its request,
then marked with the transport's answer. When every batch is accepted the edition
is ``sent``. A resume sends what is not yet accepted; a batch found ``in_flight``
(the process died mid-request) becomes ``ambiguous``: reported, and resent only with
``retry_ambiguous``. `send_test` sends one copy to one address and records nothing.
What it does not do: print (callers get a `SendReport` and a progress callback),
choose the transport (`bot.send.transports`) or retry requests (the transport does).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from bot import edition as editions
from bot.context import Context
from bot.errors import EditionError, LeaseError, SendError
from bot.render import Rendered, render_edition
from bot.send.message import BATCH_ARG, EDITION_ARG, Recipient, Transport
from bot.send.plan import RegionSets, edition_message, sendable, subject_for_test_copy
from bot.store.ledger import LedgerSummary, Planned
from bot.tokens import secret_key_from_env, subscriber_links
from bot.types import (
    AuditEntry,
    Batch,
    BatchState,
    Edition,
    EditionState,
    StoredItem,
    Subscriber,
)
from bot.types import SubscriberStatus as Status

PAGE = 1000  # subscribers read per query while planning
ACTOR = "roundup send"
Progress = Callable[[int, int], None]  # (batches done, batches to do this run)


@dataclass(frozen=True)
class SendReport:
    """What a send did, and where the edition's ledger stands after it."""

    edition_key: str
    transport: str
    state: EditionState  # the edition's state at the end
    recipients: int = 0  # planned into batches, all runs
    skipped: int = 0  # subscribers whose region set the edition leaves empty
    batches: int = 0
    accepted: int = 0
    failed: int = 0
    ambiguous: int = 0
    pending: int = 0
    sent_now: int = 0  # batches accepted by this run
    found_ambiguous: tuple[int, ...] = ()  # batch ids found in flight after a crash
    errors: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return self.failed == self.ambiguous == self.pending == 0


def send_edition(
    ctx: Context,
    key: str,
    *,
    transport: Transport,
    resume: bool = False,
    retry_ambiguous: bool = False,
    progress: Progress | None = None,
    secret: str | None = None,
) -> SendReport:
    """Send edition `key` through `transport`; see the module docstring.

    `secret` signs the unsubscribe and preferences links (default: ROUNDUP_SECRET_KEY).
    """
    store, config = ctx.store, ctx.config
    edition = editions.load(store, key)
    _check_state(edition, resume=resume)
    secret = secret or secret_key_from_env()
    lease, holder = f"send:{edition.key}", _holder()
    if not store.acquire_lease(lease, holder, config.send.lease_ttl, ctx.clock.now()):
        who = store.lease_holder(lease, ctx.clock.now()) or "another process"
        raise LeaseError(
            f"edition {edition.key} is already being sent by {who}; wait for that send to "
            f"finish (its lease lapses {config.send.lease_ttl} after its last batch)"
        )
    try:
        return _send(ctx, edition, transport, secret, holder, resume, retry_ambiguous, progress)
    finally:
        store.release_lease(lease, holder)


def _check_state(edition: Edition, *, resume: bool) -> None:
    if edition.state is EditionState.APPROVED:
        return
    if edition.state is EditionState.SENDING:
        if resume:
            return
        raise EditionError(
            f"edition {edition.key} is already sending (a send is running, or one stopped "
            "part-way); resume it with `roundup send EDITION --resume`"
        )
    hints = {
        EditionState.DRAFT: "approve it first with `roundup approve EDITION --by NAME`",
        EditionState.SENT: "it has been sent; nobody gets it twice",
        EditionState.REJECTED: "it was rejected; reopen and approve it first",
    }
    raise EditionError(
        f"cannot send edition {edition.key}: it is {edition.state.value}, only an approved "
        f"edition is sent; {hints.get(edition.state, '')}".rstrip("; ")
    )


def _send(
    ctx: Context,
    edition: Edition,
    transport: Transport,
    secret: str,
    holder: str,
    resume: bool,
    retry_ambiguous: bool,
    progress: Progress | None,
) -> SendReport:
    store, config = ctx.store, ctx.config
    if not store.list_batches(edition.key) and not store.iter_subscribers(limit=1):
        raise SendError(
            f"edition {edition.key} has nobody to go to: there are no active subscribers "
            "(import some with `roundup subscribers import FILE.csv`)"
        )
    if edition.state is EditionState.APPROVED:
        edition = editions.mark_sending(
            store, config, edition.key, actor=ACTOR, now=ctx.clock.now()
        )
    items = editions.edition_items(store, edition)
    found: list[Batch] = []
    if store.list_batches(edition.key):
        found = store.mark_in_flight_ambiguous(edition.key, now=ctx.clock.now())
    else:
        _plan(ctx, edition, items)
    todo = sendable(store.list_batches(edition.key), resume=resume, retry_ambiguous=retry_ambiguous)
    sender = _BatchSender(ctx, edition, items, transport, secret, holder)
    if progress:
        progress(0, len(todo))
    for done, batch in enumerate(todo, start=1):
        sender.send(batch)
        if progress:
            progress(done, len(todo))
    summary = store.ledger_summary(edition.key)
    if summary.count(BatchState.ACCEPTED) == summary.total_batches:
        edition = editions.mark_sent(store, edition.key, actor=ACTOR, now=ctx.clock.now())
    return _report(ctx, edition, transport, summary, sender, found)


def _plan(ctx: Context, edition: Edition, items: dict[str, StoredItem]) -> None:
    store = ctx.store
    sets = RegionSets(ctx.config, edition, items)
    result = store.plan_batches(
        edition.key,
        _planned(ctx, sets),
        batch_size=ctx.config.send.batch_size,
        now=ctx.clock.now(),
    )
    store.append_audit(
        AuditEntry(
            edition.key,
            ctx.clock.now(),
            ACTOR,
            "send_planned",
            {"batches": result.batches, "recipients": result.recipients, "skipped": result.skipped},
        )
    )


def _planned(ctx: Context, sets: RegionSets) -> Iterator[Planned]:
    """Every active subscriber, page by page (memory stays flat however many)."""
    after = 0
    while True:
        page = ctx.store.iter_subscribers(status=Status.ACTIVE, after_id=after, limit=PAGE)
        if not page:
            return
        for subscriber in page:
            assert subscriber.id is not None
            yield Planned(subscriber.id, subscriber.email, sets.for_subscriber(subscriber.regions))
        after = page[-1].id or after


class _BatchSender:
    """Sends one batch at a time: recipients, render (once per region set), claim, send."""

    def __init__(
        self,
        ctx: Context,
        edition: Edition,
        items: dict[str, StoredItem],
        transport: Transport,
        secret: str,
        holder: str,
    ) -> None:
        self.ctx, self.edition, self.items = ctx, edition, items
        self.transport, self.secret, self.holder = transport, secret, holder
        self._renders: dict[tuple[str, ...], Rendered] = {}
        self.accepted = 0
        self.errors: list[str] = []

    def send(self, batch: Batch) -> None:
        ctx, now = self.ctx, self.ctx.clock.now()
        self._renew_lease(now)
        # Everything that can fail before the request is done before the claim, so a
        # crash here leaves the batch as it was, not in flight.
        people = [s for s in ctx.store.batch_subscribers(batch.id) if s.status is Status.ACTIVE]
        recipients = [self._recipient(s, now) for s in people]
        message = edition_message(
            ctx.config,
            self._render(batch.regions),
            custom_args={EDITION_ARG: self.edition.key, BATCH_ARG: str(batch.id)},
        )
        claimed = ctx.store.claim_batch(
            batch.id, transport=self.transport.name, now=now, from_states=(batch.state,)
        )
        if not recipients:  # everyone in it left since the plan: nothing to send
            ctx.store.mark_batch(claimed.id, BatchState.ACCEPTED, now=now)
            self.accepted += 1
            return
        result = self.transport.send(message, recipients)
        ctx.store.mark_batch(
            claimed.id,
            result.state,
            now=ctx.clock.now(),
            error=result.error,
            message_id=result.message_id,
        )
        if result.accepted:
            self.accepted += 1
        elif result.error:
            self.errors.append(f"batch {batch.seq} (id {batch.id}): {result.error}")

    def _recipient(self, subscriber: Subscriber, now: datetime) -> Recipient:
        links = subscriber_links(self.ctx.config, self.secret, subscriber, now)
        return Recipient(subscriber.email, subscriber.name, links)

    def _render(self, regions: tuple[str, ...]) -> Rendered:
        rendered = self._renders.get(regions)
        if rendered is None:
            rendered = render_edition(self.edition, self.items, self.ctx.config, regions=regions)
            self._renders[regions] = rendered
        return rendered

    def _renew_lease(self, now: datetime) -> None:
        name = f"send:{self.edition.key}"
        if not self.ctx.store.acquire_lease(name, self.holder, self.ctx.config.send.lease_ttl, now):
            raise LeaseError(
                f"the send of edition {self.edition.key} lost its lease to "
                f"{self.ctx.store.lease_holder(name, now) or 'another process'}; "
                "it stopped before the next batch"
            )


def _report(
    ctx: Context,
    edition: Edition,
    transport: Transport,
    summary: LedgerSummary,
    sender: _BatchSender,
    found: list[Batch],
) -> SendReport:
    return SendReport(
        edition_key=edition.key,
        transport=transport.name,
        state=edition.state,
        recipients=summary.total_recipients,
        skipped=_skipped(ctx, edition.key),
        batches=summary.total_batches,
        accepted=summary.count(BatchState.ACCEPTED),
        failed=summary.count(BatchState.FAILED),
        ambiguous=summary.count(BatchState.AMBIGUOUS),
        pending=summary.count(BatchState.PENDING) + summary.count(BatchState.IN_FLIGHT),
        sent_now=sender.accepted,
        found_ambiguous=tuple(b.id for b in found),
        errors=tuple(sender.errors),
    )


def _skipped(ctx: Context, key: str) -> int:
    """The skipped count the plan recorded in the audit log."""
    for entry in reversed(ctx.store.audit_log(key)):
        if entry.action == "send_planned":
            value = entry.detail.get("skipped", 0)
            return value if isinstance(value, int) else 0
    return 0


def _holder() -> str:
    return f"{socket.gethostname()} pid {os.getpid()} ({uuid.uuid4().hex[:8]})"


def send_test(
    ctx: Context, key: str, to: str, *, transport: Transport, secret: str | None = None
) -> SendReport:
    """One copy of edition `key` (any state) to `to`, the subject marked as a test;
    nothing is recorded in the ledger or the edition."""
    config = ctx.config
    edition = editions.load(ctx.store, key)
    items = editions.edition_items(ctx.store, edition)
    rendered = render_edition(edition, items, config, test=True)
    message = edition_message(
        config,
        rendered,
        custom_args={EDITION_ARG: edition.key, "test": "1"},
        subject=subject_for_test_copy(config, rendered.subject),
    )
    # The links of a test copy work when the address is a subscriber's; otherwise
    # they name nobody, and the web app says so.
    known = ctx.store.get_subscriber(to)
    subscriber = known or Subscriber(email=to, status=Status.ACTIVE, id=0)
    links = subscriber_links(config, secret or secret_key_from_env(), subscriber, ctx.clock.now())
    result = transport.send(message, [Recipient(to, subscriber.name, links)])
    state = {BatchState.ACCEPTED: "accepted", BatchState.FAILED: "failed"}
    return SendReport(
        edition_key=edition.key,
        transport=transport.name,
        state=edition.state,
        recipients=1,
        batches=1,
        accepted=int(result.accepted),
        failed=int(result.state is BatchState.FAILED),
        ambiguous=int(result.state is BatchState.AMBIGUOUS),
        sent_now=int(result.accepted),
        errors=()
        if result.accepted
        else (f"{state.get(result.state, 'ambiguous')}: {result.error}",),
    )
