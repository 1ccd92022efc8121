"""The pipeline: the one place that runs the parts in order.

    config ──> ingest.poll_feeds (fetch -> parse -> normalise
                   │                 -> classify.Classifier.classify(item), where
                   │                    each feed was parsed: the parse workers)
                   │   FeedOutcome per feed: new state, items, classifications, error
                   │   (a one-shot `roundup poll` runs this in a process it forked
                   │    as it started, on a guess at the call read off the store
                   │    before the store is open: ingest.fetch_process, poll_ahead)
                   ▼
               store.upsert_items / save_feed_states
                              (on a thread, as each feed finishes)
                   ▼
               edition.draft (window, caps, dedupe, editor decisions kept)
                   ▼
               render.render_edition (one render per edition and region set)
                   ▼
               send: send.runner.send_edition (ledger -> transport)

    sign-ups (web) ──> store queue ──> send_confirmations (serve's background task,
                                        or a scheduler job)

Each step is a function of the `Context` (config, store, clock) and plain data;
the CLI, the web app and the scheduler call these functions and nothing below
them calls back up. Printing and progress bars are the callers' business: steps
report through return values and optional callbacks.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from bot import __version__
from bot.errors import UsageError
from bot.types import FetchStatus

if TYPE_CHECKING:
    # The steps import their parts when they run: polling needs no renderer or
    # sender, and `roundup --help` needs none of them.
    from bot.classify import Move
    from bot.classify.batch import BatchClassifier
    from bot.config import Config
    from bot.context import Context
    from bot.ingest import FeedOutcome
    from bot.ingest.fetch_process import FetchProcess, PollCall
    from bot.render import Rendered
    from bot.send import Transport
    from bot.send.confirmations import ConfirmationReport
    from bot.send.runner import ConfirmBreak, Notify, Progress, SendReport
    from bot.store.peek import FeedsPeek
    from bot.types import Classification, Edition, FeedState, Item

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeedReport:
    name: str
    status: FetchStatus
    new: int = 0
    updated: int = 0
    items: int = 0
    error: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class PollReport:
    feeds: tuple[FeedReport, ...] = field(default_factory=tuple)

    def count(self, status: FetchStatus) -> int:
        return sum(1 for f in self.feeds if f.status is status)

    @property
    def new(self) -> int:
        return sum(f.new for f in self.feeds)

    @property
    def updated(self) -> int:
        return sum(f.updated for f in self.feeds)

    @property
    def failed(self) -> int:
        return self.count(FetchStatus.FAILED)


def user_agent(config: Config) -> str:
    custom = config.fetch.user_agent
    return custom or f"roundup/{__version__} (+{config.newsletter.site_url})"


def feeds_to_poll(
    ctx: Context, *, feed: str | None = None, force: bool = False, now: datetime | None = None
) -> list[FeedState]:
    """The configured feeds that are due `now` (or the one named, or all with force),
    in the config's order; paused feeds only when named."""
    config = ctx.config
    if feed is not None and config.feed(feed) is None:
        names = ", ".join(f.name for f in config.feeds)
        raise UsageError(f"no feed named {feed!r} in the config (feeds: {names})")
    now = now or ctx.clock.now()
    ctx.store.sync_feeds([(f.name, f.url) for f in config.feeds], now)
    # A feed ops paused (`roundup feeds pause NAME`) is polled only when named.
    paused = (
        set()
        if feed is not None
        else {name for name, flags in ctx.store.feed_flags().items() if flags.paused}
    )
    return choose_feeds(config, ctx.store.feed_states(), paused, now, feed=feed, force=force)


def choose_feeds(
    config: Config,
    states: Iterable[FeedState],
    paused: Collection[str],
    now: datetime,
    *,
    feed: str | None = None,
    force: bool = False,
) -> list[FeedState]:
    """Of the stored `states`, the ones a poll at `now` fetches (see `feeds_to_poll`)."""
    from bot.ingest import is_due

    # In the config's order: where two feeds carry one story, the first one stores it.
    configured = {f.name: index for index, f in enumerate(config.feeds)}
    chosen = sorted((s for s in states if s.name in configured), key=lambda s: configured[s.name])
    if feed is not None:
        return [s for s in chosen if s.name == feed]
    chosen = [s for s in chosen if s.name not in paused]
    return chosen if force else [s for s in chosen if is_due(s, now)]


def poll_call(
    config: Config, states: Sequence[FeedState], now: datetime, classify: BatchClassifier
) -> PollCall:
    """What the poll of `states` at `now` asks of `ingest.poll_feeds`."""
    from bot.ingest.fetch_process import PollCall
    from bot.ingest.settings import FetchSettings

    intervals = {f.name: f.poll_interval or config.fetch.poll_interval for f in config.feeds}
    return PollCall(
        tuple(states),
        FetchSettings.of(config.fetch),
        now,
        intervals,
        user_agent(config),
        classify=classify,
        workers_ahead=expects_bodies(states),
    )


def poll_ahead(
    config: Config,
    peek: FeedsPeek | None,
    now: datetime,
    *,
    feed: str | None = None,
    force: bool = False,
) -> PollCall | None:
    """The call `poll` will make at `now`, guessed from a peek at the store before it
    is open (`store.peek`), so that a fetch process can start on it while the store
    opens (`FetchProcess.poll_ahead`). None when there is no guess, or when opening the
    store would change what the peek saw: a feed new to the store or whose URL
    changed (`Store.sync_feeds`). A wrong guess costs time, never a result: `poll`
    makes its own call and the fetch process drops one that differs.
    """
    if peek is None or (feed is not None and config.feed(feed) is None):
        return None
    known = {state.name: state.config_url for state in peek.states}
    if any(known.get(f.name) != f.url for f in config.feeds):
        return None
    from bot.classify.batch import BatchClassifier

    states = choose_feeds(config, peek.states, peek.paused, now, feed=feed, force=force)
    return poll_call(config, states, now, BatchClassifier(config))


def poll(
    ctx: Context,
    *,
    feed: str | None = None,
    force: bool = False,
    on_start: Callable[[int], None] | None = None,
    on_done: Callable[[FeedOutcome], None] | None = None,
    fetcher: FetchProcess | None = None,
    now: datetime | None = None,
) -> PollReport:
    """Fetch every due feed once, classify and store what they carry.

    With `fetcher` (a one-shot command's), the feeds are fetched and parsed by that
    process, started before the store was opened; else on this process's loop.
    `now` is the poll's time (default: the clock's), as `poll_ahead` was given it.
    """
    now = now or ctx.clock.now()
    states = feeds_to_poll(ctx, feed=feed, force=force, now=now)
    if on_start is not None:
        on_start(len(states))
    writer = _StoreInOrder(ctx)
    order = {state.name: index for index, state in enumerate(states)}  # names are unique

    def done(outcome: FeedOutcome) -> None:
        writer.put(order[outcome.name], outcome)
        if on_done is not None:
            on_done(outcome)

    from bot.ingest.fetch_process import poll_here

    call = poll_call(ctx.config, states, now, _classify_in_workers(ctx))
    try:
        outcomes = (poll_here if fetcher is None else fetcher.poll)(call, done)
    finally:
        writer.finish()
    # Feeds that brought no stories (not modified, failed) only move their state:
    # one transaction for all of them, not one commit each.
    moved = [o.state for i, o in enumerate(outcomes) if i not in writer.reports]
    ctx.store.save_feed_states(moved)
    return PollReport(tuple(writer.reports.get(i) or _report(o) for i, o in enumerate(outcomes)))


def expects_bodies(states: Sequence[FeedState]) -> bool:
    """Whether the poll of `states` will surely have bodies to parse: some feed was
    never read. (Feeds read before answer 304, or the same body, as a rule.)"""
    return any(state.body_hash is None for state in states)


class _StoreInOrder:
    """Stores each feed's stories (classifying them first where the parse workers
    did not) on a thread of its own while the rest of the poll goes on, in the
    order the feeds were given.

    Why a thread: writing a feed's stories takes milliseconds of CPU that would
    otherwise wait for the last download and parse, or stall the event loop. Why in
    order: when two feeds carry one story, the feed polled first (the first in the
    config) stores it (its key, feed and first_seen stay), as in a poll run feed by
    feed. The order gives way to memory: at most `MAX_WAITING`
    feeds' stories wait for an earlier feed still being polled (a slow one, or one
    that hangs until its deadline); past that, the earliest waiting is stored out of
    order. A store error stops the writing (the feeds not written keep their old
    state, so the next poll reads them again) and is raised by `finish`.
    """

    MAX_WAITING = 64

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.reports: dict[int, FeedReport] = {}
        self._waiting: dict[int, FeedOutcome] = {}
        self._next = 0
        self._done: set[int] = set()  # ahead of `_next`: stored, or nothing to store
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._closed = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="roundup-store", daemon=True)
        self._thread.start()

    def put(self, index: int, outcome: FeedOutcome) -> None:
        with self._ready:
            # A feed without stories has nothing to write: it is passed over here, and
            # the thread is woken only for one it can write now. Waking it for each of
            # hundreds of unchanged feeds cost the poll a GIL hand-over each.
            if outcome.items:
                self._waiting[index] = outcome
            else:
                self._done.add(index)
            self._advance()
            if self._next in self._waiting or len(self._waiting) > self.MAX_WAITING:
                self._ready.notify()

    def _advance(self) -> None:
        while self._next in self._done:
            self._done.discard(self._next)
            self._next += 1

    def finish(self) -> None:
        """Store what is waiting, stop the thread, raise its store error if any."""
        with self._ready:
            self._closed = True
            self._ready.notify()
        self._thread.join()
        if self._error is not None:
            raise self._error

    def _take(self) -> tuple[int, FeedOutcome] | None:
        with self._ready:
            while self._next not in self._waiting:
                if self._closed:
                    # Stopped early (a signal, an error): what came is stored anyway.
                    if not self._waiting:
                        return None
                    self._next = min(self._waiting)
                    break
                if len(self._waiting) > self.MAX_WAITING:
                    index = min(self._waiting)  # the earliest, ahead of a slow feed
                    self._done.add(index)
                    return index, self._waiting.pop(index)
                self._ready.wait()
            index = self._next
            self._next += 1
            self._advance()
            return index, self._waiting.pop(index)

    def _run(self) -> None:
        while (taken := self._take()) is not None:
            index, outcome = taken
            if self._error is not None:
                continue
            try:
                self.reports[index] = store_outcome(self.ctx, outcome)
            except BaseException as exc:  # raised again by finish, in the caller's thread
                self._error = exc


def _report(outcome: FeedOutcome, new: int = 0, updated: int = 0) -> FeedReport:
    if outcome.error:
        log.warning("feed %s failed: %s", outcome.name, outcome.error)
    for warning in outcome.warnings:
        log.info("feed %s: %s", outcome.name, warning)
    return FeedReport(
        name=outcome.name,
        status=outcome.status,
        new=new,
        updated=updated,
        items=len(outcome.items),
        error=outcome.error,
        warnings=outcome.warnings,
    )


def _classify_in_workers(ctx: Context) -> BatchClassifier:
    """The rules as a function the parse workers run on each feed's items: the
    polling process, which fetches and stores, then does not classify too."""
    from bot.classify.batch import BatchClassifier

    # With one parse worker (a thread here), the rules compiled here are used.
    return BatchClassifier(ctx.config, compiled=lambda: ctx.classifier)


def store_outcome(ctx: Context, outcome: FeedOutcome, *, state_saved: bool = False) -> FeedReport:
    """Save one feed's new state (unless `state_saved`) and its classified items
    (classified where they were parsed, else here)."""
    rows: list[tuple[Item, Classification]] = []
    if outcome.items and outcome.classifications is not None:
        ctx.check_rules()  # compiled in the workers: linted (and logged) here, once
        rows = list(zip(outcome.items, outcome.classifications, strict=True))
    elif outcome.items:  # the rules are compiled only when there is a story to classify
        classifier = ctx.classifier
        rows = [(item, classifier.classify(item)) for item in outcome.items]
    # One transaction: the stories and the state (validators, body hash) together.
    state = None if state_saved else outcome.state
    result = ctx.store.upsert_items(rows, ctx.clock.now(), feed_state=state)
    return _report(outcome, result.new, result.updated)


def plan_classify_all(ctx: Context) -> list[Move]:
    """What re-classifying every stored item with the current rules would change."""
    from bot.classify import plan_reclassify

    return plan_reclassify(ctx.store.iter_items(), ctx.classifier)


def classify_all(ctx: Context) -> Sequence[Move]:
    """Re-classify stored items with the current rules; editors' moves are kept."""
    from bot.classify import plan_reclassify

    stored = list(ctx.store.iter_items())
    moves = plan_reclassify(stored, ctx.classifier)
    # Candidates and the deciding rule can change without the region changing, so
    # every item is written back, not only the moved ones; the store leaves an
    # editor's manual placement alone.
    ctx.store.bulk_set_classifications([(s.key, ctx.classifier.classify(s.item)) for s in stored])
    return moves


def draft(
    ctx: Context, *, week: str | None = None, actor: str = "roundup", notify: bool = True
) -> Edition:
    """Create or refresh the edition of `week` (default: this week).

    A newly created draft is ready for review: the editors with an email address
    are told, with a link to its desk page (unless `notify` is False).
    """
    from bot import edition

    made = edition.draft(ctx.store, ctx.config, ctx.clock.now(), week=week, actor=actor)
    # Created just now: its history is its "create" alone (a refresh adds to it).
    created = [a.action for a in ctx.store.audit_log(made.key)] == ["create"]
    if notify and created:
        from bot.notify import notify_draft_ready

        notify_draft_ready(ctx, made)
    return made


def render(
    ctx: Context, e: Edition, *, regions: Collection[str] | None = None, test: bool = False
) -> Rendered:
    """Render an edition once (for a region set): per-recipient parts stay tokens."""
    from bot import edition
    from bot.render import render_edition

    items = edition.edition_items(ctx.store, e)
    return render_edition(e, items, ctx.config, regions=regions, test=test)


def send(
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
    """Send an approved edition to every active subscriber exactly once (the ledger).

    `stop` ends the send after the batch in flight (a signal); `confirm_break` is
    asked whether to take over a lease another process holds; `notify` hears
    takeovers and the like at once; `transport_explicit` lets a resume switch from
    the plan's transport (see `bot.send.runner`).
    """
    from bot.send.runner import send_edition

    return send_edition(
        ctx,
        key,
        transport=transport,
        resume=resume,
        retry_ambiguous=retry_ambiguous,
        progress=progress,
        secret=secret,
        stop=stop,
        confirm_break=confirm_break,
        notify=notify,
        transport_explicit=transport_explicit,
    )


def send_confirmations(ctx: Context, secret: str | None = None) -> ConfirmationReport:
    """Send the queued confirmation mails of sign-ups that are due; failed ones are
    retried on a later call. `roundup serve` calls this in the background."""
    from bot.send.confirmations import send_due_confirmations
    from bot.tokens import secret_key_from_env

    return send_due_confirmations(ctx, secret or secret_key_from_env())


# The audit log's key for ops actions on no one edition (polls, feeds).
OPS_KEY = "ops"


def set_feed_paused(ctx: Context, name: str, paused: bool, *, actor: str) -> None:
    """Pause or resume polling feed `name` (a paused feed is not polled or alerted on
    until it is resumed, unless it is named); recorded in the audit log with `actor`."""
    from bot.types import AuditEntry

    if ctx.config.feed(name) is None:
        names = ", ".join(f.name for f in ctx.config.feeds)
        raise UsageError(f"no feed named {name!r} in the config (feeds: {names})")
    now = ctx.clock.now()
    ctx.store.set_feed_paused(name, paused, by=actor, now=now)
    action = "feed_pause" if paused else "feed_resume"
    ctx.store.append_audit(AuditEntry(OPS_KEY, now, actor, action, {"feed": name}))
