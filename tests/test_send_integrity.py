"""Send integrity on an operator's worst day, with real `roundup send` processes.

Every test runs the real command in a child process against the real store
(SQLite and PostgreSQL) and the SendGrid-compatible server on 127.0.0.1 (or the
outbox), kills or signals it at a named point (the runner's test-only
``ROUNDUP_SEND_PAUSE`` hook, or a request the server holds), and counts the
messages each recipient got. The edition has four region sets, and a story's
title changes after approval, so a resume that rendered anew would show it.
"""

from __future__ import annotations

import mailbox
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from bot import edition as editions
from bot.clock import FixedClock
from bot.context import Context, open_context
from bot.errors import EditionError, SendError
from bot.lease import Holder, this_host
from bot.send.outbox import OutboxTransport
from bot.send.runner import PAUSE_ENV, send_edition, send_test
from bot.send.sendgrid_api import SendGridTransport
from bot.send.settle import retry_ready, settle_time
from bot.send.webhook import apply_events, parse_events
from bot.store.schema import batches
from bot.types import Batch, BatchState, Classification, EditionState, Item, SubscriberStatus
from tests.sendgrid_server import API_KEY, SendGridServer
from tests.webhook_signing import body_of

ROOT = Path(__file__).resolve().parent.parent
SECRET = "s" * 40
KEY = "2026-W48"  # the week of the clock fixture
CONFIG = """
newsletter:
  publication: Test Statecraft
  site_url: https://example.org
  base_url: https://news.example.org
  sender: {email: news@example.org, name: The Round-Up}
  postal_address: 1 Example Street, Washington, DC
feeds:
  - {name: main, url: "https://example.org/feed"}
regions:
  - name: Middle East
  - name: Europe
  - name: Asia-Pacific
send:
  batch_size: 2
  max_attempts: 2
  retry_base: 1
  retry_max: 2
  request_timeout: 2
  outbox_dir: OUTBOX
"""
# Four region sets: everything, Middle East, Europe, and both.
SETS: dict[tuple[str, ...] | None, list[str]] = {
    None: [f"all{i}@example.org" for i in range(3)],
    ("Middle East",): ["me0@example.org", "me1@example.org"],
    ("Europe",): ["eu0@example.org"],
    ("Middle East", "Europe"): ["mix0@example.org", "mix1@example.org"],
}
RECEIVERS = [email for emails in SETS.values() for email in emails]
TITLES = {0: "Story 0 from Middle East", 1: "Story 1 from Middle East", 2: "Story 2 from Europe"}
CHANGED = "A title changed after the approval"
TIMEOUT = 180  # seconds; generous, since CI machines can be slow; a hang still fails


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    return tmp_path / "outbox"


@pytest.fixture
def config_path(tmp_path: Path, outbox: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.replace("OUTBOX", str(outbox)), encoding="utf-8")
    return path


@pytest.fixture
def ctx(database_url: str, config_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("ROUNDUP_SECRET_KEY", SECRET)
    with open_context(config_path, database_url=database_url, clock=FixedClock()) as context:
        now = context.clock.now()
        _stories(context, now)
        editions.draft(context.store, context.config, now)
        for regions, emails in SETS.items():
            for email in emails:
                context.store.add_subscriber(
                    email, now=now, status=SubscriberStatus.ACTIVE, regions=regions
                )
        editions.approve(context.store, context.config, KEY, "editor", now)
        yield context


@pytest.fixture
def server() -> Iterator[SendGridServer]:
    with SendGridServer() as running:
        yield running


def _stories(ctx: Context, now: datetime, changed: bool = False) -> None:
    for n, title in TITLES.items():
        url = f"https://example.org/story-{n}"
        item = Item(
            key=f"story-{n}",
            feed="main",
            url=url,
            canonical_url=url,
            title=CHANGED if changed and n == 1 else f"{title}, told at length",
            lede=f"Lede {n}.",
            published=now - timedelta(hours=n + 1),
        )
        region = "Europe" if "Europe" in title else "Middle East"
        ctx.store.upsert_items([(item, Classification(region=region, rule=None))], now)


def _env(database_url: str, server: SendGridServer | None = None, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ROUNDUP_SECRET_KEY": SECRET,
        "COLUMNS": "200",
        **extra,
    }
    env.pop(PAUSE_ENV, None)
    env.update({k: v for k, v in extra.items() if k == PAUSE_ENV})
    if server is not None:
        env.update({"SENDGRID_API_KEY": API_KEY, "SENDGRID_API_HOST": server.url})
    else:
        env.pop("SENDGRID_API_KEY", None)
    return env


def _start(
    config: Path,
    env: dict[str, str],
    *args: str,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "send", KEY, "--config", str(config), *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=preexec_fn,
    )


def _run(config: Path, env: dict[str, str], *args: str, stdin: str = "") -> tuple[int, str]:
    proc = _start(config, env, *args)
    out, err = proc.communicate(stdin, timeout=TIMEOUT)
    return proc.returncode, out + err


def _wait_for(marker: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not marker.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            _, err = proc.communicate(timeout=10)
            pytest.fail(f"the send never reached the pause point: {err}")
        time.sleep(0.02)


def _age_ambiguous(ctx: Context, minutes: int = 16) -> None:
    """As if `minutes` had passed since the ambiguous batches' requests."""
    past = datetime.now(UTC) - timedelta(minutes=minutes)
    with ctx.store.engine.begin() as conn:
        conn.execute(
            update(batches)
            .where(batches.c.state == BatchState.AMBIGUOUS.value)
            .values(updated_at=past)
        )


def _sent_texts(server: SendGridServer) -> list[str]:
    return [str(a.body) for a in server.accepted]


def _assert_approved_text_only(texts: list[str]) -> None:
    assert texts and all(CHANGED not in text for text in texts)
    assert any("Story 1 from Middle East, told at length" in text for text in texts)


def _state(ctx: Context) -> EditionState:
    edition = ctx.store.get_edition(KEY)
    assert edition is not None
    return edition.state


# --- kill -9 at each point, then --resume at once ---------------------------------


def _kill_at(proc: subprocess.Popen[str], reached: Callable[[], None]) -> str:
    """Wait until the send reaches its pause point, SIGKILL it, return its stderr."""
    try:
        reached()
    finally:
        proc.kill()  # SIGKILL: no cleanup, no finally blocks
        _, err = proc.communicate(timeout=TIMEOUT)
    return err


def _settle_by_webhook(ctx: Context, server: SendGridServer, number: int) -> None:
    """SendGrid reports the batch of request `number` processed, with our batch id."""
    (request,) = [a for a in server.accepted if a.number == number]
    pairs = zip(request.recipients, request.custom_args, strict=True)
    events = [
        {"sg_event_id": f"ev-{number}-{n}", "event": "processed", "email": email, **args}
        for n, (email, args) in enumerate(pairs)
    ]
    apply_events(ctx.store, parse_events(body_of(events)), ctx.clock.now())


def test_kill_9_at_each_point_then_resume_at_once_sends_the_approved_text_once(
    ctx: Context, server: SendGridServer, config_path: Path, database_url: str, tmp_path: Path
) -> None:
    marker = tmp_path / "paused"
    plain = _env(database_url, server)

    # 1. Killed after batch 2 is claimed, before its request.
    env = _env(database_url, server, **{PAUSE_ENV: f"claimed:2:{marker}"})
    first = _start(config_path, env, "--transport", "sendgrid")
    _kill_at(first, lambda: _wait_for(marker, first))
    _stories(ctx, ctx.clock.now(), changed=True)  # a feed changes a story after approval

    # 2. Resumed at once; killed after batch 3's answer, before it is recorded.
    marker.unlink()
    env = _env(database_url, server, **{PAUSE_ENV: f"answered:3:{marker}"})
    second = _start(config_path, env, "--resume")
    err = _kill_at(second, lambda: _wait_for(marker, second))
    assert f"the send by pid {first.pid} on this host has ended; resuming" in err
    _settle_by_webhook(ctx, server, 2)  # batch 3 went out as request 2

    # 3. Resumed at once; killed while batch 4's request is held by the server.
    server.on(3, "hang")
    third = _start(config_path, plain, "--resume")
    err = _kill_at(third, lambda: _assert(server.wait_hanging(timeout=TIMEOUT)))
    server.release()
    assert f"the send by pid {second.pid} on this host has ended; resuming" in err
    assert "settled 1 ambiguous batch(es) as accepted by evidence" in " ".join(err.split())

    # 4. A plain resume sends the rest; batches 2 and 4 have no evidence yet.
    code, out = _run(config_path, plain, "--resume")
    text = " ".join(out.split())
    assert code == 1, out
    assert "may or may not have gone out" in text
    states = Counter(b.state for b in ctx.store.list_batches(KEY))
    assert states == Counter({BatchState.ACCEPTED: 3, BatchState.AMBIGUOUS: 2})

    # 5. After send.settle_after without evidence, they are resent, and it says so.
    _age_ambiguous(ctx)
    code, out = _run(config_path, plain, "--resume", "--retry-ambiguous")
    assert code == 0, out
    assert "may get a second copy" in out
    assert server.recipients() == Counter(RECEIVERS)
    _assert_approved_text_only(_sent_texts(server))
    assert _state(ctx) is EditionState.SENT


def _assert(value: bool) -> None:
    assert value


# --- SIGTERM and SIGINT: the batch in flight finishes, then a plain resume --------


def _signal_at(config: Path, env: dict[str, str], marker: Path, signum: int, *args: str) -> str:
    proc = _start(config, env, *args)
    _wait_for(marker, proc)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 1, err
    return err


def test_sigterm_and_sigint_finish_the_batch_in_flight_and_a_plain_resume_completes(
    ctx: Context, server: SendGridServer, config_path: Path, database_url: str, tmp_path: Path
) -> None:
    marker = tmp_path / "paused"
    env = _env(database_url, server, **{PAUSE_ENV: f"claimed:2:{marker}"})
    err = _signal_at(config_path, env, marker, signal.SIGTERM)
    assert "stopped: 3 batches left; run `roundup send 2026-W48 --resume`" in err
    states = Counter(b.state for b in ctx.store.list_batches(KEY))
    assert states == Counter({BatchState.ACCEPTED: 2, BatchState.PENDING: 3})
    assert ctx.store.lease_holder(f"send:{KEY}", datetime.now(UTC)) is None  # released

    marker.unlink()
    env = _env(database_url, server, **{PAUSE_ENV: f"claimed:4:{marker}"})
    err = _signal_at(config_path, env, marker, signal.SIGINT, "--resume")
    assert "stopped: 1 batches left" in err

    code, out = _run(config_path, _env(database_url, server), "--resume")
    assert code == 0, out
    assert server.recipients() == Counter(RECEIVERS)
    assert _state(ctx) is EditionState.SENT


# --- a lease held on another host: waited for, or broken on confirmation ----------


def test_a_send_on_another_host_is_waited_for_and_taken_over_with_break_lease(
    ctx: Context, server: SendGridServer, config_path: Path, database_url: str
) -> None:
    other = Holder("ops-box.elsewhere", 4242, "b.1", "abcd")
    now = datetime.now(UTC)
    # Long enough not to lapse while this test runs on a busy machine.
    ttl = timedelta(minutes=10)
    assert ctx.store.acquire_lease(f"send:{KEY}", other.encode(), ttl, now)
    env = _env(database_url, server)

    code, out = _run(config_path, env)
    text = " ".join(out.split())
    assert code == 1 and "pid 4242 on host ops-box.elsewhere" in text
    assert "lease lapses at" in text and "--resume --break-lease" in text
    code, out = _run(config_path, env, "--resume", "--break-lease", stdin="no\n")
    assert code == 1 and server.request_count == 0
    assert "Break its lease and take over?" in out

    code, out = _run(config_path, env, "--resume", "--break-lease", stdin="yes\n")
    assert code == 0, out
    assert "broke the lease of pid 4242 on host ops-box.elsewhere" in out
    assert server.recipients() == Counter(RECEIVERS)


# --- the outbox: a stale lock, a half-failed write, an unwritable folder ----------


def _mbox_recipients(path: Path) -> Counter[str]:
    box = mailbox.mbox(path, create=False)
    try:
        return Counter(str(m["To"]) for m in box)
    finally:
        box.close()


def _dead_holder() -> Holder:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return Holder(this_host(), int(child.stdout), "-", "dead")


def test_a_stale_outbox_lock_is_taken_over_and_its_half_append_cut_off(
    ctx: Context, config_path: Path, database_url: str, outbox: Path
) -> None:
    outbox.mkdir()
    mbox = outbox / f"{KEY}.mbox"
    whole = b"From MAILER-DAEMON Mon Nov 23 12:00:00 2026\nSubject: earlier\n\nbody\n\n"
    half = b"From MAILER-DAEMON Mon Nov 23 12:00:01 2026\nSubject: half a batch\n"
    mbox.write_bytes(whole + half)
    lock = outbox / f"{KEY}.mbox.lock"
    lock.write_text(f"{_dead_holder().encode()}\nappend {len(whole)} 5000\n")

    code, out = _run(config_path, _env(database_url), "--transport", "outbox")
    assert code == 0, out
    assert not lock.exists()
    data = mbox.read_bytes()
    assert data.startswith(whole) and b"half a batch" not in data
    counts = _mbox_recipients(mbox)
    assert counts.pop("None") == 1  # the earlier message, kept
    assert counts == Counter(RECEIVERS)


def test_a_half_failed_outbox_write_leaves_whole_batches_and_resume_completes(
    ctx: Context, config_path: Path, database_url: str, outbox: Path, tmp_path: Path
) -> None:
    # The size of one email, measured with a test copy: the limit lets a few whole
    # batches through and cuts the next one part-way.
    scratch = OutboxTransport(ctx.config, tmp_path / "scratch", ctx.clock)
    copy = editions.load(ctx.store, KEY)
    assert copy.state is EditionState.APPROVED
    send_test(ctx, KEY, "size@example.org", transport=scratch, secret=SECRET)
    one = (tmp_path / "scratch" / f"{KEY}-test.mbox").stat().st_size
    # The limit holds for every file the process writes, the SQLite database too:
    # the mbox starts above the database's size, with an earlier message.
    outbox.mkdir()
    mbox = outbox / f"{KEY}.mbox"
    base = sum(p.stat().st_size for p in tmp_path.glob("roundup.db*")) + (1 << 20)
    filler = b"x" * 76 + b"\n"
    earlier = b"From MAILER-DAEMON Mon Nov 23 12:00:00 2026\nSubject: earlier\n\n"
    mbox.write_bytes(earlier + filler * (base // len(filler)) + b"\n")
    limit = mbox.stat().st_size + int(one * 5.5)

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = _start(config_path, _env(database_url), "--transport", "outbox", preexec_fn=limited)
    out, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 1, err
    assert "Traceback" not in err
    assert "the send stopped: cannot write the outbox" in err
    written = _mbox_recipients(mbox)
    assert written.pop("None") == 1
    ledger = ctx.store.list_batches(KEY)
    failed = [b for b in ledger if b.state is BatchState.FAILED]
    assert len(failed) == 1 and 0 < len(written) < len(RECEIVERS)
    for batch in ledger:  # every batch is in the mbox whole, or not at all
        got = sum(written[email] for email in ctx.store.batch_emails(batch.id))
        assert got == (batch.size if batch.state is BatchState.ACCEPTED else 0)

    code, out = _run(config_path, _env(database_url), "--resume")
    assert code == 0, out
    assert _mbox_recipients(mbox) == Counter({**Counter(RECEIVERS), "None": 1})


def test_an_unwritable_outbox_stops_after_one_batch_and_resume_continues(
    ctx: Context, config_path: Path, database_url: str, outbox: Path
) -> None:
    outbox.write_text("a file where the outbox folder should be")
    proc = _start(config_path, _env(database_url), "--transport", "outbox")
    out, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 1
    lines = [line for line in err.splitlines() if "cannot write the outbox" in line]
    assert len(lines) == 1 and "the send stopped" in lines[0], err
    states = Counter(b.state for b in ctx.store.list_batches(KEY))
    assert states == Counter({BatchState.FAILED: 1, BatchState.PENDING: 4})
    assert _state(ctx) is EditionState.SENDING

    outbox.unlink()
    code, out = _run(config_path, _env(database_url), "--resume")
    assert code == 0, out
    assert _mbox_recipients(outbox / f"{KEY}.mbox") == Counter(RECEIVERS)


# --- in-process: the frozen content, the planned transport, the decisions ---------


def _transport(ctx: Context, server: SendGridServer) -> SendGridTransport:
    return SendGridTransport(ctx.config, API_KEY, host=server.url, sleep=lambda _s: None)


def _stop_after_first(stop: threading.Event) -> Callable[[int, int], None]:
    def progress(done: int, _total: int) -> None:
        if done >= 1:
            stop.set()

    return progress


def test_a_resume_of_four_region_sets_sends_only_the_approved_text(
    ctx: Context, server: SendGridServer
) -> None:
    stop = threading.Event()
    first = send_edition(
        ctx, KEY, transport=_transport(ctx, server), stop=stop, progress=_stop_after_first(stop)
    )
    assert first.stopped and first.sent_now == 1
    assert len({tuple(b.regions) for b in ctx.store.list_batches(KEY)}) == 4
    _stories(ctx, ctx.clock.now(), changed=True)  # a feed poll changes a story
    done = send_edition(ctx, KEY, transport=_transport(ctx, server), resume=True)
    assert done.ok and done.state is EditionState.SENT
    assert server.recipients() == Counter(RECEIVERS)
    _assert_approved_text_only(_sent_texts(server))


def test_a_change_after_approval_voids_it_naming_the_story(
    ctx: Context, server: SendGridServer
) -> None:
    _stories(ctx, ctx.clock.now(), changed=True)
    with pytest.raises(EditionError, match="the title of “Story 1 from Middle East") as caught:
        send_edition(ctx, KEY, transport=_transport(ctx, server))
    assert "it is a draft again" in str(caught.value)
    assert _state(ctx) is EditionState.DRAFT and server.request_count == 0
    voided = [e for e in ctx.store.audit_log(KEY) if e.action == "content_changed"]
    assert voided and "title" in str(voided[-1].detail["changed"])


def test_a_config_change_after_the_send_began_never_reaches_a_batch(
    ctx: Context, server: SendGridServer, config_path: Path, database_url: str
) -> None:
    stop = threading.Event()
    send_edition(
        ctx, KEY, transport=_transport(ctx, server), stop=stop, progress=_stop_after_first(stop)
    )
    changed = config_path.read_text().replace("Test Statecraft", "Renamed Weekly")
    config_path.write_text(changed)
    with open_context(config_path, database_url=database_url, clock=ctx.clock) as later:
        done = send_edition(later, KEY, transport=_transport(later, server), resume=True)
    assert done.ok
    assert all("Renamed Weekly" not in text for text in _sent_texts(server))


def test_a_resume_through_another_transport_needs_it_named(
    ctx: Context, server: SendGridServer, outbox: Path
) -> None:
    stop = threading.Event()
    box = OutboxTransport(ctx.config, outbox, ctx.clock)
    send_edition(ctx, KEY, transport=box, stop=stop, progress=_stop_after_first(stop))
    with pytest.raises(SendError, match="planned to go through the outbox transport"):
        send_edition(ctx, KEY, transport=_transport(ctx, server), resume=True)
    done = send_edition(
        ctx, KEY, transport=_transport(ctx, server), resume=True, transport_explicit=True
    )
    assert done.ok
    (switch,) = [e for e in ctx.store.audit_log(KEY) if e.action == "transport_changed"]
    assert switch.detail == {"from": "outbox", "to": "sendgrid"}


def test_a_refused_api_key_stops_the_send_after_one_batch(
    ctx: Context, server: SendGridServer
) -> None:
    wrong = SendGridTransport(ctx.config, "SG.wrong", host=server.url, sleep=lambda _s: None)
    report = send_edition(ctx, KEY, transport=wrong)
    assert report.fatal and "401" in report.fatal
    assert server.request_count == 1 and report.state is EditionState.SENDING
    done = send_edition(ctx, KEY, transport=_transport(ctx, server), resume=True)
    assert done.ok and server.recipients() == Counter(RECEIVERS)


def test_an_outbox_batch_never_written_is_settled_as_not_sent(ctx: Context, outbox: Path) -> None:
    box = OutboxTransport(ctx.config, outbox, ctx.clock)
    stop = threading.Event()
    send_edition(ctx, KEY, transport=box, stop=stop, progress=_stop_after_first(stop))
    # As if a send died after claiming the second batch, before writing it.
    second = ctx.store.list_batches(KEY)[1]
    ctx.store.claim_batch(second.id, transport="outbox", now=ctx.clock.now())
    done = send_edition(ctx, KEY, transport=box, resume=True)
    assert (done.found_ambiguous, done.settled, done.settled_unsent) == ((second.id,), 0, 1)
    assert done.ok and done.state is EditionState.SENT
    assert _mbox_recipients(outbox / f"{KEY}.mbox") == Counter(RECEIVERS)


T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("age", "ready"),
    [
        (timedelta(0), False),
        (timedelta(minutes=14, seconds=59), False),
        (timedelta(minutes=15), True),
        (timedelta(hours=3), True),
    ],
)
def test_an_ambiguous_batch_may_be_resent_only_after_settle_after(
    age: timedelta, ready: bool
) -> None:
    batch = Batch(
        id=1, edition_key=KEY, regions=(), state=BatchState.AMBIGUOUS, updated_at=T0, seq=1
    )
    go, wait = retry_ready([batch], T0 + age, timedelta(minutes=15))
    assert (go == [batch], wait == [batch]) == (ready, not ready)
    assert settle_time([batch], timedelta(minutes=15)) == T0 + timedelta(minutes=15)


def test_a_second_signal_exits_at_once_leaving_the_batch_ambiguous(
    ctx: Context, server: SendGridServer, config_path: Path, database_url: str
) -> None:
    # A request timeout long enough that the second signal lands while it waits.
    slow = config_path.read_text().replace("request_timeout: 2", "request_timeout: 9")
    config_path.write_text(slow)
    server.on(2, "hang")
    proc = _start(config_path, _env(database_url, server))
    try:
        assert server.wait_hanging(timeout=TIMEOUT)
        proc.send_signal(signal.SIGTERM)
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=TIMEOUT)
    finally:
        server.release()
    assert proc.returncode == 1 and "stopped at once" in err, err
    states = Counter(b.state for b in ctx.store.list_batches(KEY))
    assert states[BatchState.IN_FLIGHT] == 1 and states[BatchState.ACCEPTED] == 1

    code, out = _run(config_path, _env(database_url, server), "--resume")
    assert code == 1 and "may or may not have gone out" in out
    _age_ambiguous(ctx)
    code, out = _run(config_path, _env(database_url, server), "--resume", "--retry-ambiguous")
    assert code == 0, out
    assert server.recipients() == Counter(RECEIVERS)
