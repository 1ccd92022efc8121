"""Sending an edition end to end: the real store (SQLite and PostgreSQL), the real
renderer, and a SendGrid-compatible server on 127.0.0.1 that checks every request
against SendGrid's OpenAPI description. Real `roundup send` processes killed and
signalled mid-send are in test_send_integrity.py."""

from __future__ import annotations

import mailbox
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot import edition as editions
from bot.clock import FixedClock
from bot.context import Context, open_context
from bot.errors import EditionError, LeaseError, SendError
from bot.send import OutboxTransport, SendGridTransport
from bot.send.runner import send_edition, send_test
from bot.types import BatchState, Classification, EditionState, Item, SubscriberStatus
from tests.sendgrid_server import API_KEY, SendGridServer

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
  unsubscribe_mailto: leave@example.org
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
  retry_max: 5
  request_timeout: 3  # a hang's cost; 0.5 s cut plain requests short under load
  outbox_dir: OUTBOX
"""
ACTIVE_ALL = [f"all{i}@example.org" for i in range(5)]
ACTIVE_ME = ["me0@example.org", "me1@example.org"]
ACTIVE_AP = ["ap0@example.org", "ap1@example.org"]  # the edition has no Asia-Pacific story
NOT_ACTIVE = {
    "gone@example.org": SubscriberStatus.UNSUBSCRIBED,
    "bounced@example.org": SubscriberStatus.BOUNCED,
    "pending@example.org": SubscriberStatus.PENDING,
    "spam@example.org": SubscriberStatus.COMPLAINED,
}
RECEIVERS = ACTIVE_ALL + ACTIVE_ME


class Waits:
    def __init__(self) -> None:
        self.seconds: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.replace("OUTBOX", str(tmp_path / "outbox")), encoding="utf-8")
    return path


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def ctx(
    database_url: str, config_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Context]:
    monkeypatch.setenv("ROUNDUP_SECRET_KEY", SECRET)
    with open_context(config_path, database_url=database_url, clock=clock) as context:
        _stories(context)
        _subscribers(context)
        yield context


@pytest.fixture
def server() -> Iterator[SendGridServer]:
    with SendGridServer() as running:
        yield running


def _stories(ctx: Context) -> None:
    now = ctx.clock.now()
    for n, region in enumerate(["Middle East", "Middle East", "Europe"]):
        url = f"https://example.org/story-{n}"
        item = Item(
            key=f"story-{n}",
            feed="main",
            url=url,
            canonical_url=url,
            title=f"Story {n} from {region}, told at length",
            lede=f"Lede {n}.",
            published=now - timedelta(hours=n + 1),
        )
        ctx.store.upsert_items([(item, Classification(region=region, rule=None))], now)
    editions.draft(ctx.store, ctx.config, now)


def _subscribers(ctx: Context) -> None:
    now = ctx.clock.now()
    active = SubscriberStatus.ACTIVE
    for email in ACTIVE_ALL:
        ctx.store.add_subscriber(email, now=now, status=active)
    for email in ACTIVE_ME:
        ctx.store.add_subscriber(email, now=now, status=active, regions=("Middle East",))
    for email in ACTIVE_AP:
        ctx.store.add_subscriber(email, now=now, status=active, regions=("Asia-Pacific",))
    for email, status in NOT_ACTIVE.items():
        ctx.store.add_subscriber(email, now=now, status=status)


def approve(ctx: Context) -> None:
    editions.approve(ctx.store, ctx.config, KEY, "editor", ctx.clock.now())


def transport(ctx: Context, server: SendGridServer) -> SendGridTransport:
    return SendGridTransport(ctx.config, API_KEY, host=server.url, sleep=Waits())


def test_every_active_subscriber_gets_exactly_one_message(
    ctx: Context, server: SendGridServer
) -> None:
    approve(ctx)
    seen: list[tuple[int, int]] = []
    report = send_edition(
        ctx, KEY, transport=transport(ctx, server), progress=lambda d, t: seen.append((d, t))
    )
    assert server.invalid == []
    assert server.recipients() == Counter(RECEIVERS)  # once each; nobody else
    assert report.ok and report.state is EditionState.SENT
    assert (report.recipients, report.skipped, report.batches) == (7, 2, 4)
    assert (report.accepted, report.failed, report.ambiguous, report.sent_now) == (4, 0, 0, 4)
    assert seen == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    edition = ctx.store.get_edition(KEY)
    assert edition is not None and edition.state is EditionState.SENT
    assert [e.action for e in ctx.store.audit_log(KEY)][-3:] == ["sending", "send_planned", "sent"]
    assert ctx.store.lease_holder(f"send:{KEY}", ctx.clock.now()) is None


def test_region_subsets_get_their_own_render(ctx: Context, server: SendGridServer) -> None:
    approve(ctx)
    send_edition(ctx, KEY, transport=transport(ctx, server))
    batches = {b.id: b for b in ctx.store.list_batches(KEY)}
    for request in server.accepted:
        body = request.body
        assert body is not None
        batch = batches[int(request.custom_args[0]["batch"])]
        html = body["content"][1]["value"]
        assert "Story 0 from Middle East" in html
        if batch.regions == ("Middle East",):
            assert set(request.recipients) <= set(ACTIVE_ME)
            assert "Story 2 from Europe" not in html
        else:
            assert set(request.recipients) <= set(ACTIVE_ALL)
            assert "Story 2 from Europe" in html
        # Per-recipient links ride as substitutions, never filled into the shared body.
        for person in body["personalizations"]:
            links = person["substitutions"]
            assert links["-roundup.unsubscribe_url-"].startswith(
                "https://news.example.org/unsubscribe/"
            )
            assert person["custom_args"] == {"edition": KEY, "batch": str(batch.id)}
        assert "-roundup.unsubscribe_url-" in html


def test_a_draft_is_refused_and_nothing_is_sent(ctx: Context, server: SendGridServer) -> None:
    with pytest.raises(EditionError, match=r"draft.*approve it first"):
        send_edition(ctx, KEY, transport=transport(ctx, server))
    assert server.request_count == 0 and ctx.store.list_batches(KEY) == []


def test_a_sending_edition_needs_resume(ctx: Context, server: SendGridServer) -> None:
    approve(ctx)
    server.on(2, "400", message="The from address is not verified")
    report = send_edition(ctx, KEY, transport=transport(ctx, server))
    assert report.state is EditionState.SENDING and report.failed == 1 and not report.ok
    assert "The from address is not verified" in report.errors[0]
    with pytest.raises(EditionError, match="--resume"):
        send_edition(ctx, KEY, transport=transport(ctx, server))
    again = send_edition(ctx, KEY, transport=transport(ctx, server), resume=True)
    assert again.ok and again.state is EditionState.SENT and again.sent_now == 1
    assert server.recipients() == Counter(RECEIVERS)


def test_ambiguous_batches_wait_for_retry_ambiguous(ctx: Context, server: SendGridServer) -> None:
    approve(ctx)
    server.on(3, "hang")
    try:
        report = send_edition(ctx, KEY, transport=transport(ctx, server))
    finally:
        server.release()
    assert (report.accepted, report.ambiguous, report.state) == (3, 1, EditionState.SENDING)
    plain = send_edition(ctx, KEY, transport=transport(ctx, server), resume=True)
    assert (plain.sent_now, plain.ambiguous) == (0, 1)
    # No evidence yet, and send.settle_after (15 minutes by default) not passed: a
    # retry waits for the webhook rather than risk a second copy.
    early = send_edition(
        ctx, KEY, transport=transport(ctx, server), resume=True, retry_ambiguous=True
    )
    assert (early.sent_now, early.ambiguous, early.awaiting_evidence) == (0, 1, 1)
    assert early.retry_after == ctx.clock.now() + timedelta(minutes=15)
    assert isinstance(ctx.clock, FixedClock)
    ctx.clock.advance(timedelta(minutes=15))
    final = send_edition(
        ctx, KEY, transport=transport(ctx, server), resume=True, retry_ambiguous=True
    )
    assert final.ok and final.state is EditionState.SENT
    assert final.second_copies == 2  # the batch's recipients may have it twice
    assert server.recipients() == Counter(RECEIVERS)


def test_a_delivery_event_settles_an_ambiguous_batch(ctx: Context, server: SendGridServer) -> None:
    approve(ctx)
    server.on(1, "hang")
    try:
        send_edition(ctx, KEY, transport=transport(ctx, server))
    finally:
        server.release()
    (ambiguous,) = ctx.store.list_batches(KEY, [BatchState.AMBIGUOUS])
    assert ctx.store.confirm_batch_delivered(ambiguous.id, ctx.clock.now())
    report = send_edition(ctx, KEY, transport=transport(ctx, server), resume=True)
    assert report.ok and report.state is EditionState.SENT
    assert server.request_count == 4  # the confirmed batch was not sent again


def test_the_lease_refuses_a_concurrent_send(ctx: Context, server: SendGridServer) -> None:
    approve(ctx)
    lease = f"send:{KEY}"
    assert ctx.store.acquire_lease(
        lease, "ops-box pid 4242", timedelta(minutes=10), ctx.clock.now()
    )
    with pytest.raises(LeaseError, match="is being sent by ops-box pid 4242"):
        send_edition(ctx, KEY, transport=transport(ctx, server))
    assert server.request_count == 0
    edition = ctx.store.get_edition(KEY)
    assert edition is not None and edition.state is EditionState.APPROVED


def test_a_subscriber_who_left_after_the_plan_is_not_sent_to(
    ctx: Context, server: SendGridServer
) -> None:
    approve(ctx)
    server.on(1, "500")
    server.on(2, "500")  # the first batch fails (two attempts), the rest go
    send_edition(ctx, KEY, transport=transport(ctx, server))
    (failed,) = ctx.store.list_batches(KEY, [BatchState.FAILED])
    leaving = ctx.store.batch_subscribers(failed.id)[0]
    assert leaving.id is not None
    ctx.store.set_subscriber_status(leaving.id, SubscriberStatus.UNSUBSCRIBED, now=ctx.clock.now())
    send_edition(ctx, KEY, transport=transport(ctx, server), resume=True)
    assert leaving.email not in server.recipients()
    assert server.recipients() == Counter(e for e in RECEIVERS if e != leaving.email)


def test_no_subscribers_is_refused_before_anything_changes(
    config_path: Path, sqlite_url: str, server: SendGridServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROUNDUP_SECRET_KEY", SECRET)
    with open_context(config_path, database_url=sqlite_url, clock=FixedClock()) as context:
        _stories(context)
        approve(context)
        with pytest.raises(SendError, match="no active subscribers"):
            send_edition(context, KEY, transport=transport(context, server))
        edition = context.store.get_edition(KEY)
        assert edition is not None and edition.state is EditionState.APPROVED


def test_a_test_copy_goes_to_one_address_and_records_nothing(
    ctx: Context, server: SendGridServer
) -> None:
    report = send_test(ctx, KEY, "editor@example.org", transport=transport(ctx, server))
    assert report.ok
    (request,) = server.accepted
    assert request.recipients == ["editor@example.org"]
    assert request.body is not None and request.body["subject"].startswith("[TEST] ")
    assert ctx.store.list_batches(KEY) == []
    edition = ctx.store.get_edition(KEY)
    assert edition is not None and edition.state is EditionState.DRAFT


def test_outbox_send_fills_each_copy(ctx: Context, tmp_path: Path) -> None:
    approve(ctx)
    outbox = OutboxTransport(ctx.config, tmp_path / "outbox", ctx.clock)
    try:
        report = send_edition(ctx, KEY, transport=outbox)
    finally:
        outbox.close()
    assert report.ok and report.transport == "outbox"
    box = mailbox.mbox(tmp_path / "outbox" / f"{KEY}.mbox")
    to = sorted(str(m["To"]) for m in box)
    assert to == sorted(RECEIVERS)
    for mail in box:
        assert mail["List-Unsubscribe"].startswith("<https://news.example.org/unsubscribe/")
        assert b"-roundup." not in mail.as_bytes()
    box.close()


# --- the command ----------------------------------------------------------


def test_cli_test_copy_and_draft_refusal(
    ctx: Context,
    config_path: Path,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.cli import main

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("SENDGRID_API_KEY", raising=False)
    args = ["send", KEY, "--config", str(config_path)]
    assert main([*args, "--test-to", "editor@example.org"]) == 0
    box = mailbox.mbox(tmp_path / "outbox" / f"{KEY}-test.mbox")
    (copy,) = list(box)
    box.close()
    assert copy["To"] == "editor@example.org" and copy["Subject"].startswith("[TEST] ")
    assert main(args) == 1  # still a draft: refused
    assert "only an approved edition is sent" in " ".join(capsys.readouterr().err.split())
    assert main([*args, "--transport", "smtp"]) == 2
    assert ctx.store.list_batches(KEY) == []
