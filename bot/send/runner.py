"""Sending an approved edition to every active subscriber exactly once.

What it does: checks the edition may be sent (approved, or ``sending`` with
``resume``), takes the store lease ``send:EDITION`` with `bot.lease` (a live holder
is refused with when its lease lapses; one on this host whose process has ended is
replaced at once; the operator may break a lease after confirming; the lease is
renewed in the background while the send runs), moves the edition to ``sending``
(voiding an approval whose content changed, naming what changed), plans the
delivery ledger once with the transport it is made for (every active subscriber,
streamed page by page, grouped by region set; region sets the edition leaves empty
are skipped and counted), and sends batch after batch, each built from the render
of its region set made once from the content frozen at approval
(`bot.send.frozen`). Each batch is claimed ``in_flight`` and committed before its
request, then marked with the transport's answer. When every batch is accepted the
edition is ``sent``.

A resume first turns batches found ``in_flight`` into ``ambiguous`` and settles them
by evidence (`bot.send.settle`); ``retry_ambiguous`` resends those still unsettled
after ``send.settle_after``. A resume through another transport than the plan's is
refused unless the caller chose it explicitly (then it is in the audit log). A
`stop` event (a signal) ends the send after the batch in flight; a transport-wide
failure (`SendResult.fatal`) ends it after the first batch that shows it.
`send_test` sends one copy to one address and records nothing.

Test support: ``ROUNDUP_SEND_PAUSE=POINT:SEQ:FILE`` makes the run create FILE and
wait (until FILE is removed, `stop` is set, or 60 s pass) at POINT (``claimed``,
before the request; ``answered``, after the answer and before it is recorded) of
the batch with sequence number SEQ, so tests can kill it there. Unset, it does
nothing.
What it does not do: print (callers get a `SendReport` and callbacks), choose the
transport (`bot.send.transports`) or retry requests (the transport does).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bot import edition as editions
from bot.context import Context
from bot.errors import EditionError, LeaseError, SendError
from bot.lease import Claim, Holder, LeaseKeeper, Verdict, claim, this_host, this_process
from bot.render import render_edition
from bot.send.frozen import FrozenRenders
from bot.send.message import BATCH_ARG, EDITION_ARG, Recipient, SendResult, Transport
from bot.send.plan import RegionSets, edition_message, sendable, subject_for_test_copy
from bot.send.settle import Settled, retry_ready, settle, settle_time
from bot.store.ledger import LedgerSummary, Planned
from bot.tokens import secret_key_from_env, subscriber_links
from bot.types import AuditEntry, Batch, BatchState, Edition, EditionState, StoredItem, Subscriber
from bot.types import SubscriberStatus as Status

PAGE = 1000  # subscribers read per query while planning
ACTOR = "roundup send"
PAUSE_ENV = "ROUNDUP_SEND_PAUSE"
Progress = Callable[[int, int], None]  # (batches done, batches to do this run)
Notify = Callable[[str], None]
ConfirmBreak = Callable[[str], bool]  # asked with the holder's description


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
    settled: int = 0  # ambiguous batches this run settled as accepted by evidence
    settled_unsent: int = 0  # ambiguous outbox batches found never written
    stopped: bool = False  # a stop (signal) ended the run before every batch was tried
    left: int = 0  # batches this run did not get to
    fatal: str | None = None  # the transport-wide failure that ended the run
    second_copies: int = 0  # recipients of resent ambiguous batches
    awaiting_evidence: int = 0  # ambiguous batches younger than send.settle_after
    retry_after: datetime | None = None  # when those may be resent

    @property
    def ok(self) -> bool:
        return self.failed == self.ambiguous == self.pending == 0 and not self.stopped


@dataclass(frozen=True)
class SendOptions:
    """How a run of `send_edition` behaves beyond what to send."""

    resume: bool = False
    retry_ambiguous: bool = False
    transport_explicit: bool = False  # the caller chose the transport (may differ from the plan's)
    # Read, never waited on, by the sending thread: a signal handler may set it.
    stop: threading.Event | None = None
    confirm_break: ConfirmBreak | None = None
    notify: Notify | None = None


def send_edition(
    ctx: Context,
    key: str,
    *,
    transport: Transport,
    resume: bool = False,
    retry_ambiguous: bool = False,
    progress: Progress | None = None,
    secret: str | None = None,
    stop: threading.Event | None = None,
    confirm_break: ConfirmBreak | None = None,
    notify: Notify | None = None,
    transport_explicit: bool = False,
) -> SendReport:
    """Send edition `key` through `transport`; see the module docstring.

    `secret` signs the unsubscribe and preferences links (default: ROUNDUP_SECRET_KEY).
    `confirm_break` is asked, naming the holder, whether to break a lease held by a
    live or remote process; `notify` hears what the operator should know at once.
    """
    options = SendOptions(resume, retry_ambiguous, transport_explicit, stop, confirm_break, notify)
    store, config = ctx.store, ctx.config
    edition = editions.load(store, key)
    _check_state(edition, resume=resume)
    secret = secret or secret_key_from_env()
    name, me = f"send:{edition.key}", this_process()
    taken = _take_lease(ctx, edition, name, me, options)
    if taken.previous is not None and taken.verdict is not Verdict.FREE:
        _say(options, _takeover_line(taken))
    keeper = LeaseKeeper(store, name, me, config.send.lease_ttl, ctx.clock).start()
    try:
        return _send(ctx, edition, transport, secret, keeper, options, progress)
    finally:
        keeper.release()


def _take_lease(
    ctx: Context, edition: Edition, name: str, me: Holder, options: SendOptions
) -> Claim:
    ttl, now = ctx.config.send.lease_ttl, ctx.clock.now()
    taken = claim(ctx.store, name, me, ttl, now)
    asked = options.confirm_break
    if not taken.taken and taken.previous is not None and asked and asked(_holder_line(taken)):
        taken = claim(ctx.store, name, me, ttl, ctx.clock.now(), break_lease=True)
    if not taken.taken:
        raise LeaseError(_busy_message(edition.key, taken))
    return taken


def _holder_line(taken: Claim) -> str:
    assert taken.previous is not None
    lapses = taken.previous.expires_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"{taken.previous_holder} (its lease lapses at {lapses} unless renewed)"


def _busy_message(key: str, taken: Claim) -> str:
    if taken.previous is None:
        return f"edition {key} is being sent by another process; try again"
    holder = Holder.parse(taken.previous.holder)
    lapses = taken.previous.expires_at.strftime("%H:%M:%S UTC on %Y-%m-%d")
    where = "still running on this host" if holder and holder.host == this_host() else "running"
    return (
        f"edition {key} is being sent by {taken.previous_holder}, {where}; its lease lapses "
        f"at {lapses} unless that send renews it: wait for it, or if it is dead take over "
        f"with `roundup send {key} --resume --break-lease`"
    )


def _takeover_line(taken: Claim) -> str:
    assert taken.previous is not None
    holder = Holder.parse(taken.previous.holder)
    if taken.verdict is Verdict.HOLDER_GONE and holder is not None:
        return f"the send by pid {holder.pid} on this host has ended; resuming"
    if taken.verdict is Verdict.BREAK:
        return f"broke the lease of {taken.previous_holder}; resuming"
    return f"took over the lapsed lease of {taken.previous_holder}"


def _say(options: SendOptions, line: str) -> None:
    if options.notify is not None:
        options.notify(line)


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


def _check_transport(
    ctx: Context, edition: Edition, transport: Transport, options: SendOptions
) -> None:
    """A resume goes through the plan's transport unless the caller chose another."""
    store = ctx.store
    plan = store.send_plan(edition.key)
    planned = plan.transport if plan else _transport_of_batches(ctx, edition.key)
    if planned is None or planned == transport.name:
        return
    if not options.transport_explicit:
        raise SendError(
            f"edition {edition.key} was planned to go through the {planned} transport, and "
            f"this resume would use {transport.name}; resume with `--transport {planned}`, "
            f"or give `--transport {transport.name}` to switch on purpose"
        )
    now = ctx.clock.now()
    store.save_send_plan(edition.key, transport.name, now)
    detail: dict[str, object] = {"from": planned, "to": transport.name}
    store.append_audit(AuditEntry(edition.key, now, ACTOR, "transport_changed", detail))
    _say(options, f"switching the send of {edition.key} from {planned} to {transport.name}")


def _transport_of_batches(ctx: Context, key: str) -> str | None:
    return next((b.transport for b in ctx.store.list_batches(key) if b.transport), None)


def _send(
    ctx: Context,
    edition: Edition,
    transport: Transport,
    secret: str,
    keeper: LeaseKeeper,
    options: SendOptions,
    progress: Progress | None,
) -> SendReport:
    store, config = ctx.store, ctx.config
    planned = bool(store.list_batches(edition.key))
    if not planned and not store.iter_subscribers(limit=1):
        raise SendError(
            f"edition {edition.key} has nobody to go to: there are no active subscribers "
            "(import some with `roundup subscribers import FILE.csv`)"
        )
    if planned:
        _check_transport(ctx, edition, transport, options)
    if edition.state is EditionState.APPROVED:
        edition = editions.mark_sending(
            store, config, edition.key, actor=ACTOR, now=ctx.clock.now()
        )
    items = editions.sending_items(store, config, edition, ctx.clock.now())
    found: list[Batch] = []
    settled = Settled()
    if planned:
        found = store.mark_in_flight_ambiguous(edition.key, now=ctx.clock.now())
        settled = settle(ctx, edition.key)
        _say_settled(options, settled)
    else:
        _plan(ctx, edition, items, transport)
    renders = FrozenRenders(ctx, edition, items)
    batches = store.list_batches(edition.key)
    renders.prepare(b.regions for b in batches if b.state is not BatchState.ACCEPTED)
    todo = sendable(batches, resume=options.resume, retry_ambiguous=False)
    ready, waiting = retry_ready(
        [b for b in batches if b.state is BatchState.AMBIGUOUS],
        ctx.clock.now(),
        config.send.settle_after,
    )
    if options.retry_ambiguous:
        todo = sorted(todo + ready, key=lambda b: b.seq)
        if ready:
            copies = sum(b.size for b in ready)
            _say(
                options,
                f"resending {len(ready)} ambiguous batch(es) that no evidence settled within "
                f"send.settle_after: up to {copies} recipient(s) may get a second copy",
            )
    sender = _BatchSender(ctx, edition, renders, transport, secret)
    run = _Run(len(todo))
    if progress:
        progress(0, len(todo))
    for done, batch in enumerate(todo, start=1):
        if options.stop is not None and options.stop.is_set():
            run.stopped = True
            break
        if keeper.lost.is_set():
            raise LeaseError(
                f"the send of edition {edition.key} lost its lease (an operator broke it); "
                "it stopped before the next batch"
            )
        result = sender.send(batch, options)
        run.left -= 1
        if progress:
            progress(done, len(todo))
        if result.fatal:
            run.fatal = result.error or "the transport failed"
            break
    summary = store.ledger_summary(edition.key)
    if summary.count(BatchState.ACCEPTED) == summary.total_batches:
        edition = editions.mark_sent(store, edition.key, actor=ACTOR, now=ctx.clock.now())
    extra: dict[str, object] = {
        "settled": settled.accepted,
        "settled_unsent": settled.not_sent,
        "stopped": run.stopped,
        "left": run.left,
        "fatal": run.fatal,
        "second_copies": sum(b.size for b in ready) if options.retry_ambiguous else 0,
        "awaiting_evidence": len(waiting),
        "retry_after": settle_time(waiting, config.send.settle_after),
    }
    return _report(ctx, edition, transport, summary, sender, found, extra)


@dataclass
class _Run:
    left: int
    stopped: bool = False
    fatal: str | None = None


def _say_settled(options: SendOptions, settled: Settled) -> None:
    if settled.accepted:
        _say(
            options,
            f"settled {settled.accepted} ambiguous batch(es) as accepted by evidence "
            "(webhook events, or the outbox itself)",
        )
    if settled.not_sent:
        _say(
            options,
            f"{settled.not_sent} ambiguous outbox batch(es) were never written; "
            "they are sent again",
        )


def _plan(
    ctx: Context, edition: Edition, items: dict[str, StoredItem], transport: Transport
) -> None:
    store = ctx.store
    sets = RegionSets(ctx.config, edition, items)
    store.save_send_plan(edition.key, transport.name, ctx.clock.now())
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
            {
                "batches": result.batches,
                "recipients": result.recipients,
                "skipped": result.skipped,
                "transport": transport.name,
            },
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
    """Sends one batch at a time: recipients, the frozen render, claim, send, record."""

    def __init__(
        self,
        ctx: Context,
        edition: Edition,
        renders: FrozenRenders,
        transport: Transport,
        secret: str,
    ) -> None:
        self.ctx, self.edition, self.renders = ctx, edition, renders
        self.transport, self.secret = transport, secret
        self.accepted = 0
        self.errors: list[str] = []

    def send(self, batch: Batch, options: SendOptions) -> SendResult:
        ctx, now = self.ctx, self.ctx.clock.now()
        # Everything that can fail before the request is done before the claim, so a
        # crash here leaves the batch as it was, not in flight.
        people = [s for s in ctx.store.batch_subscribers(batch.id) if s.status is Status.ACTIVE]
        recipients = [self._recipient(s, now) for s in people]
        message = edition_message(
            ctx.config,
            self.renders.get(batch.regions),
            custom_args={EDITION_ARG: self.edition.key, BATCH_ARG: str(batch.id)},
        )
        claimed = ctx.store.claim_batch(
            batch.id, transport=self.transport.name, now=now, from_states=(batch.state,)
        )
        if not recipients:  # everyone in it left since the plan: nothing to send
            ctx.store.mark_batch(claimed.id, BatchState.ACCEPTED, now=now)
            self.accepted += 1
            return SendResult(BatchState.ACCEPTED)
        _pause("claimed", batch, options)
        result = self.transport.send(message, recipients)
        _pause("answered", batch, options)
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
        return result

    def _recipient(self, subscriber: Subscriber, now: datetime) -> Recipient:
        links = subscriber_links(self.ctx.config, self.secret, subscriber, now)
        return Recipient(subscriber.email, subscriber.name, links)


def _pause(point: str, batch: Batch, options: SendOptions) -> None:
    """Test support (see the module docstring); does nothing unless PAUSE_ENV is set."""
    spec = os.environ.get(PAUSE_ENV)
    if not spec:
        return
    name, _, rest = spec.partition(":")
    seq, _, marker = rest.partition(":")
    if name != point or seq != str(batch.seq) or not marker:
        return
    path = Path(marker)
    path.write_text(str(os.getpid()))
    deadline = time.monotonic() + 60
    # Polled, not waited on: a signal handler sets `stop` in this same thread.
    while path.exists() and time.monotonic() < deadline:
        if options.stop is not None and options.stop.is_set():
            return
        time.sleep(0.05)


def _report(
    ctx: Context,
    edition: Edition,
    transport: Transport,
    summary: LedgerSummary,
    sender: _BatchSender,
    found: list[Batch],
    extra: dict[str, object],
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
        **extra,  # type: ignore[arg-type]
    )


def _skipped(ctx: Context, key: str) -> int:
    """The skipped count the plan recorded in the audit log."""
    for entry in reversed(ctx.store.audit_log(key)):
        if entry.action == "send_planned":
            value = entry.detail.get("skipped", 0)
            return value if isinstance(value, int) else 0
    return 0


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
