"""Drafting, editing and approving editions on the real store (SQLite and PostgreSQL).

Every test here takes the `store` fixture, so it runs on both databases; time comes
from the `clock` fixture (a FixedClock), the config from a small YAML string.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot import edition as editions
from bot.clock import FixedClock
from bot.config import Config, parse_config
from bot.errors import EditionError, NotFoundError, UsageError
from bot.store import Store
from bot.types import Classification, Edition, EditionState, Item

CONFIG = """
newsletter:
  name: Weekly Round-Up
  publication: Test Statecraft
  site_url: https://example.org
  sender: {email: news@example.org}
  postal_address: 1 Example Street, Washington, DC
  timezone: America/New_York
  caps: {per_region: 3, total: 6}
feeds:
  - name: main
    url: https://example.org/feed
regions:
  - name: Middle East
  - name: Asia-Pacific
  - name: Europe
fallback:
  name: More from the site
"""
ME, AP, EU, MORE = "Middle East", "Asia-Pacific", "Europe", "More from the site"
WEEK = "2026-W48"  # the clock fixture's Tuesday 24 November 2026, 12:00 UTC


@pytest.fixture
def config() -> Config:
    return parse_config(CONFIG, "test-config.yaml")


def add(
    store: Store,
    key: str,
    region: str,
    at: datetime,
    *,
    title: str | None = None,
    url: str | None = None,
    seen: datetime | None = None,
) -> None:
    """Store one story, published at `at`, first seen at `seen` (default `at`)."""
    link = url or f"https://example.org/{key}"
    item = Item(
        key=key,
        feed="main",
        url=link,
        canonical_url=link,
        title=title or f"The story of {key} in {region}, told at length",
        lede=f"Lede of {key}.",
        published=at,
    )
    store.upsert_items([(item, Classification(region=region, rule=None))], seen or at)


def hours_ago(clock: FixedClock, hours: float) -> datetime:
    return clock.now() - timedelta(hours=hours)


def layout(e: Edition) -> dict[str, list[str]]:
    """Section -> item keys in position order, excluded ones marked with a minus."""
    out: dict[str, list[str]] = {}
    for x in sorted(e.entries, key=lambda x: x.position):
        out.setdefault(x.region, []).append(("-" if x.excluded else "") + x.item_key)
    return out


def actions(store: Store, key: str = WEEK) -> list[str]:
    return [a.action for a in store.audit_log(key)]


def stored(store: Store, key: str = WEEK) -> Edition:
    found = store.get_edition(key)
    assert found is not None
    return found


# --- drafting ---------------------------------------------------------------


def test_draft_creates_this_weeks_edition(store: Store, config: Config, clock: FixedClock) -> None:
    add(store, "me-old", ME, hours_ago(clock, 30))
    add(store, "me-new", ME, hours_ago(clock, 2))
    add(store, "eu", EU, hours_ago(clock, 5))
    add(store, "ap", AP, hours_ago(clock, 160))  # inside the first edition's 7 days
    add(store, "stray", "Antarctica", hours_ago(clock, 3))  # no such section: the fallback
    add(store, "too-old", ME, hours_ago(clock, 24 * 7 + 1))
    add(store, "future", ME, clock.now() + timedelta(hours=1))

    e = editions.draft(store, config, clock.now(), actor="scheduler")

    assert e.key == WEEK
    assert e.state is EditionState.DRAFT
    assert (e.window_start, e.window_end) == (clock.now() - timedelta(days=7), clock.now())
    assert layout(e) == {ME: ["me-new", "me-old"], AP: ["ap"], EU: ["eu"], MORE: ["stray"]}
    # Sections come in the configured order, fallback last.
    assert list(layout(e)) == list(config.region_names)
    assert e.subject == ""  # the config's template until an editor writes one
    assert stored(store) == e
    [log] = store.audit_log(WEEK)
    assert (log.action, log.actor, log.at) == ("create", "scheduler", clock.now())
    assert log.detail["added"] == ["me-new", "me-old", "ap", "eu", "stray"]
    assert log.detail["window_end"] == clock.now().isoformat()


def test_draft_keys_by_the_newsletters_timezone(
    store: Store, config: Config, clock: FixedClock
) -> None:
    # Monday 03:00 UTC is still Sunday evening in New York: the week before.
    clock.at = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
    assert editions.draft(store, config, clock.now()).key == "2026-W48"
    assert editions.draft(store, config, clock.now(), week="2026-w49").key == "2026-W49"
    with pytest.raises(UsageError, match="2026 has ISO weeks 01 to 53"):
        editions.draft(store, config, clock.now(), week="2026-W54")


def test_draft_applies_the_caps_fairly(store: Store, config: Config, clock: FixedClock) -> None:
    for i in range(5):
        add(store, f"me{i}", ME, hours_ago(clock, 1 + i))
        add(store, f"eu{i}", EU, hours_ago(clock, 10 + i))
    add(store, "ap0", AP, hours_ago(clock, 50))

    e = editions.draft(store, config, clock.now())

    # per_region 3, total 6, shared round-robin in region order, rank by rank:
    # me0 ap0 eu0, me1 eu1, me2.
    assert layout(e) == {ME: ["me0", "me1", "me2"], AP: ["ap0"], EU: ["eu0", "eu1"]}


def test_draft_takes_a_syndicated_story_once(
    store: Store, config: Config, clock: FixedClock
) -> None:
    title = "Why the Gulf states are hedging between Washington and Beijing"
    add(store, "original", ME, hours_ago(clock, 10), title=title)
    add(
        store,
        "repost",
        ME,
        hours_ago(clock, 4),
        title=title.upper() + "!",
        url="https://partner.example/x",
    )
    add(
        store,
        "framed",
        AP,
        hours_ago(clock, 3),
        title=f"Opinion: {title}",
        url="https://other.example/y",
    )
    add(store, "different", ME, hours_ago(clock, 5))

    e = editions.draft(store, config, clock.now())

    assert layout(e) == {ME: ["different", "original"]}


# --- refreshing -------------------------------------------------------------


def test_refresh_adds_new_stories_and_keeps_every_decision(
    store: Store, config: Config, clock: FixedClock
) -> None:
    for i in range(3):
        add(store, f"me{i}", ME, hours_ago(clock, 10 + i))
    add(store, "eu0", EU, hours_ago(clock, 20))
    add(store, "eu1", EU, hours_ago(clock, 21))
    first = editions.draft(store, config, clock.now())
    assert layout(first) == {ME: ["me0", "me1", "me2"], EU: ["eu0", "eu1"]}

    t = clock.now()
    editions.reorder(store, WEEK, "me2", 0, actor="ann", now=t)  # oldest to the top
    editions.exclude(store, WEEK, "me1", actor="ann", now=t)
    editions.pin(store, WEEK, "eu1", actor="ann", now=t)
    editions.move(store, config, WEEK, "eu0", AP, actor="ann", now=t)
    editions.set_headline(store, WEEK, "me0", "A better headline", actor="ann", now=t)
    editions.set_lede(store, WEEK, "me0", "A shorter lede.", actor="ann", now=t)
    editions.set_subject(store, WEEK, "Gulf week", actor="ann", now=t)
    editions.set_intro(store, WEEK, "This week **we**...", actor="ann", now=t)
    before = stored(store)

    clock.advance(timedelta(hours=20))
    add(store, "me-new", ME, hours_ago(clock, 1))
    add(store, "me-mid", ME, hours_ago(clock, 29))  # older than me2, newer than me0
    add(store, "eu-new", EU, hours_ago(clock, 2))
    add(store, "eu0", AP, hours_ago(clock, 40))  # re-polled: classification says Asia now
    refreshed = editions.draft(store, config, clock.now(), actor="scheduler")

    assert refreshed.state is EditionState.DRAFT
    assert refreshed.window_end == clock.now()
    assert layout(refreshed) == {
        # me-new slots in above the first older story. The per-region cap (3) keeps
        # the reordered me2 and the edited me0, so only one new story fits: me-mid,
        # older than me-new, stays out; the excluded me1 counts for nothing.
        ME: ["me-new", "me2", "me0", "-me1"],
        EU: ["eu1", "eu-new"],
        AP: ["eu0"],
    }
    kept = {x.item_key: x for x in refreshed.entries}
    old = {x.item_key: x for x in before.entries}
    for key in ("me0", "me1", "me2", "eu0", "eu1"):
        assert replace(kept[key], position=0) == replace(old[key], position=0)
    assert (refreshed.subject, refreshed.intro) == ("Gulf week", "This week **we**...")
    log = store.audit_log(WEEK)[-1]
    assert (log.action, log.actor) == ("refresh", "scheduler")
    assert log.detail["added"] == ["me-new", "eu-new"]
    assert log.detail["dropped"] == []


def test_refresh_follows_a_reclassified_story_unless_an_editor_moved_it(
    store: Store, config: Config, clock: FixedClock
) -> None:
    add(store, "a", ME, hours_ago(clock, 5))
    add(store, "b", ME, hours_ago(clock, 6))
    editions.draft(store, config, clock.now())
    editions.move(store, config, WEEK, "b", EU, actor="ann", now=clock.now())
    add(store, "a", AP, hours_ago(clock, 5))  # the rules changed
    add(store, "b", AP, hours_ago(clock, 6))
    e = editions.draft(store, config, clock.now())
    assert layout(e) == {AP: ["a"], EU: ["b"]}


def test_an_excluded_story_frees_room_at_the_next_refresh(
    store: Store, config: Config, clock: FixedClock
) -> None:
    for i in range(4):
        add(store, f"me{i}", ME, hours_ago(clock, 1 + i))
    assert layout(editions.draft(store, config, clock.now())) == {ME: ["me0", "me1", "me2"]}
    editions.exclude(store, WEEK, "me1", actor="ann", now=clock.now())
    e = editions.draft(store, config, clock.now())
    assert layout(e) == {ME: ["me0", "-me1", "me2", "me3"]}


# --- approval ---------------------------------------------------------------


def test_approval_records_who_when_and_the_content_hash(
    store: Store, config: Config, clock: FixedClock
) -> None:
    add(store, "a", ME, hours_ago(clock, 5))
    editions.draft(store, config, clock.now())
    clock.advance(timedelta(minutes=5))

    e = editions.approve(store, config, WEEK, "  Ann Editor ", clock.now())

    assert e.state is EditionState.APPROVED
    assert (e.approved_by, e.approved_at) == ("Ann Editor", clock.now())
    assert e.approved_hash == editions.content_hash(store, config, e)
    assert len(e.approved_hash or "") >= 32
    assert stored(store) == e
    log = store.audit_log(WEEK)[-1]
    assert (log.action, log.actor, log.detail) == (
        "approve",
        "Ann Editor",
        {"hash": e.approved_hash, "stories": 1},
    )
    with pytest.raises(EditionError, match="is approved; edit it"):
        editions.approve(store, config, WEEK, "Bob", clock.now())


def test_an_edit_after_approval_returns_the_edition_to_draft(
    store: Store, config: Config, clock: FixedClock
) -> None:
    add(store, "a", ME, hours_ago(clock, 5))
    add(store, "b", ME, hours_ago(clock, 6))
    editions.draft(store, config, clock.now())
    approved = editions.approve(store, config, WEEK, "ann", clock.now())

    clock.advance(timedelta(minutes=1))
    e = editions.reorder(store, WEEK, "b", 0, actor="bob", now=clock.now())

    assert e.state is EditionState.DRAFT
    assert (e.approved_by, e.approved_at, e.approved_hash) == (None, None, None)
    assert stored(store) == e
    assert actions(store) == ["create", "approve", "reorder", "approval_voided"]
    voided = store.audit_log(WEEK)[-1]
    assert voided.actor == "bob"
    assert voided.detail == {
        "approved_by": "ann",
        "approved_at": approved.approved_at.isoformat() if approved.approved_at else None,
        "hash": approved.approved_hash,
        "cause": "reorder",
    }
    # The edited content hashes differently: the old approval could not be reused.
    assert editions.content_hash(store, config, e) != approved.approved_hash
    assert editions.approve(store, config, WEEK, "ann", clock.now()).state is EditionState.APPROVED


def test_a_change_that_changes_nothing_keeps_the_approval(
    store: Store, config: Config, clock: FixedClock
) -> None:
    add(store, "a", ME, hours_ago(clock, 5))
    editions.draft(store, config, clock.now())
    approved = editions.approve(store, config, WEEK, "ann", clock.now())
    same = editions.include(store, WEEK, "a", actor="bob", now=clock.now())
    assert same == approved
    assert stored(store).state is EditionState.APPROVED
    assert actions(store) == ["create", "approve"]


def test_an_approved_edition_is_not_refreshed(
    store: Store, config: Config, clock: FixedClock
) -> None:
    add(store, "a", ME, hours_ago(clock, 5))
    editions.draft(store, config, clock.now())
    approved = editions.approve(store, config, WEEK, "ann", clock.now())
    add(store, "b", ME, hours_ago(clock, 1))
    with pytest.raises(EditionError, match=f"cannot refresh it: edition {WEEK} is approved"):
        editions.draft(store, config, clock.now() + timedelta(hours=1))
    assert stored(store) == approved
    assert actions(store) == ["create", "approve"]


def test_an_empty_edition_cannot_be_approved(
    store: Store, config: Config, clock: FixedClock
) -> None:
    add(store, "a", ME, hours_ago(clock, 5))
    editions.draft(store, config, clock.now())
    editions.exclude(store, WEEK, "a", actor="ann", now=clock.now())
    with pytest.raises(EditionError, match="has no stories to send"):
        editions.approve(store, config, WEEK, "ann", clock.now())


def test_a_story_updated_after_approval_stops_the_send(
    store: Store, config: Config, clock: FixedClock
) -> None:
    add(store, "a", ME, hours_ago(clock, 5))
    editions.draft(store, config, clock.now())
    editions.approve(store, config, WEEK, "ann", clock.now())
    add(store, "a", ME, hours_ago(clock, 5), title="The feed rewrote this headline since")

    with pytest.raises(EditionError, match="changed since ann approved it"):
        editions.mark_sending(store, config, WEEK, actor="sender", now=clock.now())

    e = stored(store)
    assert e.state is EditionState.DRAFT and e.approved_hash is None
    assert actions(store)[-2:] == ["content_changed", "approval_voided"]


# --- sending and the next edition -------------------------------------------


def test_sent_stories_are_never_taken_again(
    store: Store, config: Config, clock: FixedClock
) -> None:
    title = "Inside the talks that could end the war in Sudan this winter"
    add(store, "sent", ME, hours_ago(clock, 5), title=title)
    add(store, "skipped", EU, hours_ago(clock, 6))
    editions.draft(store, config, clock.now())
    editions.exclude(store, WEEK, "skipped", actor="ann", now=clock.now())
    editions.approve(store, config, WEEK, "ann", clock.now())
    editions.mark_sending(store, config, WEEK, actor="sender", now=clock.now())
    resumed = editions.mark_sending(store, config, WEEK, actor="sender", now=clock.now())
    assert resumed.state is EditionState.SENDING
    cutoff = clock.now()
    clock.advance(timedelta(hours=2))
    sent = editions.mark_sent(store, WEEK, actor="sender", now=clock.now())
    assert (sent.state, sent.sent_at) == (EditionState.SENT, clock.now())
    assert actions(store)[-3:] == ["sending", "send_resumed", "sent"]

    clock.advance(timedelta(days=7))
    add(store, "new", AP, hours_ago(clock, 10))
    # The sent story, re-dated by its feed after the cut-off, and a copy of it.
    add(store, "sent", ME, hours_ago(clock, 3), title=title)
    add(store, "copy", ME, hours_ago(clock, 4), title=title, url="https://partner.example/s")
    next_week = editions.draft(store, config, clock.now())

    assert next_week.key == "2026-W49"
    assert next_week.window_start == cutoff
    assert layout(next_week) == {AP: ["new"]}
    with pytest.raises(EditionError, match="has been sent and cannot change"):
        editions.pin(store, WEEK, "sent", actor="ann", now=clock.now())
    with pytest.raises(EditionError, match="cannot refresh it"):
        editions.draft(store, config, clock.now(), week=WEEK)


def test_a_send_in_progress_counts_as_sent_for_the_next_draft(
    store: Store, config: Config, clock: FixedClock
) -> None:
    add(store, "going", ME, hours_ago(clock, 5))
    editions.draft(store, config, clock.now())
    editions.approve(store, config, WEEK, "ann", clock.now())
    editions.mark_sending(store, config, WEEK, actor="sender", now=clock.now())
    clock.advance(timedelta(days=7))
    add(store, "going", ME, hours_ago(clock, 1))  # re-dated, still being sent
    add(store, "new", EU, hours_ago(clock, 2))
    assert layout(editions.draft(store, config, clock.now())) == {EU: ["new"]}


# --- editing: the audit log and refusals ------------------------------------


def test_every_change_is_in_the_audit_log(store: Store, config: Config, clock: FixedClock) -> None:
    for i, hours in enumerate((1, 2, 3)):
        add(store, f"s{i}", ME, hours_ago(clock, hours))
    editions.draft(store, config, clock.now())
    t = clock.now()
    editions.reorder(store, WEEK, "s2", 0, actor="ann", now=t)
    editions.pin(store, WEEK, "s1", actor="ann", now=t)
    editions.unpin(store, WEEK, "s1", actor="ann", now=t)
    editions.exclude(store, WEEK, "s0", actor="bob", now=t)
    editions.include(store, WEEK, "s0", actor="bob", now=t)
    editions.move(store, config, WEEK, "s0", EU, actor="bob", now=t)
    editions.set_headline(store, WEEK, "s0", " New\nheadline ", actor="cy", now=t)
    editions.set_headline(store, WEEK, "s0", "", actor="cy", now=t)
    editions.set_lede(store, WEEK, "s0", "Lede.", actor="cy", now=t)
    editions.set_subject(store, WEEK, "Subject", actor="cy", now=t)
    editions.set_preheader(store, WEEK, "Pre", actor="cy", now=t)
    editions.set_intro(store, WEEK, "Intro\r\n\r\nPara", actor="cy", now=t)
    editions.reject(store, WEEK, actor="dee", now=t, reason="too thin")
    editions.reopen(store, WEEK, actor="dee", now=t)

    log = store.audit_log(WEEK)
    assert [(a.action, a.actor) for a in log] == [
        ("create", "roundup"),
        ("reorder", "ann"),
        ("pin", "ann"),
        ("unpin", "ann"),
        ("exclude", "bob"),
        ("include", "bob"),
        ("move", "bob"),
        ("headline", "cy"),
        ("headline", "cy"),
        ("lede", "cy"),
        ("subject", "cy"),
        ("preheader", "cy"),
        ("intro", "cy"),
        ("reject", "dee"),
        ("reopen", "dee"),
    ]
    assert all(a.at == t and a.edition_key == WEEK for a in log)
    details = [a.detail for a in log[1:]]
    assert details[0] == {"item": "s2", "region": ME, "from": 2, "to": 0}
    assert details[1] == {"item": "s1", "region": ME}
    assert details[5] == {"item": "s0", "from": ME, "to": EU}
    assert details[6] == {"item": "s0", "from": None, "to": "New headline"}
    assert details[7] == {"item": "s0", "from": "New headline", "to": None}
    assert details[9] == {"from": "", "to": "Subject"}
    assert details[11] == {"from": "", "to": "Intro\n\nPara"}
    assert details[12] == {"reason": "too thin"}
    e = stored(store)
    assert e.state is EditionState.DRAFT
    assert (e.subject, e.preheader, e.intro) == ("Subject", "Pre", "Intro\n\nPara")
    moved = next(x for x in e.entries if x.item_key == "s0")
    assert (moved.region, moved.moved, moved.headline, moved.lede) == (EU, True, None, "Lede.")
    items = editions.edition_items(store, e)
    assert sorted(items) == ["s0", "s1", "s2"]
    assert items["s0"].item.title.startswith("The story of s0")


def test_edits_are_refused_clearly(store: Store, config: Config, clock: FixedClock) -> None:
    t = clock.now()
    with pytest.raises(NotFoundError, match="no edition 2026-W48; create it with `roundup draft"):
        editions.pin(store, WEEK, "a", actor="ann", now=t)
    with pytest.raises(UsageError, match="bad edition key 'week-48'"):
        editions.pin(store, "week-48", "a", actor="ann", now=t)
    add(store, "a", ME, hours_ago(clock, 5))
    editions.draft(store, config, t)
    with pytest.raises(NotFoundError, match="story 'zz' is not in edition 2026-W48"):
        editions.pin(store, WEEK, "zz", actor="ann", now=t)
    with pytest.raises(UsageError, match=r"'Mars' is not a section .*Middle East, Asia-Pacific"):
        editions.move(store, config, WEEK, "a", "Mars", actor="ann", now=t)
    with pytest.raises(UsageError, match="the headline is 301 characters long"):
        editions.set_headline(store, WEEK, "a", "h" * 301, actor="ann", now=t)
    with pytest.raises(UsageError, match="say who makes the change"):
        editions.pin(store, WEEK, "a", actor="  ", now=t)
    with pytest.raises(UsageError, match="positions count from 0"):
        editions.reorder(store, WEEK, "a", -1, actor="ann", now=t)
    editions.reject(store, WEEK, actor="ann", now=t)
    with pytest.raises(EditionError, match="is rejected; reopen it as a draft first"):
        editions.set_subject(store, WEEK, "S", actor="ann", now=t)
    with pytest.raises(EditionError, match="cannot refresh it"):
        editions.draft(store, config, t)
    assert actions(store) == ["create", "reject"]
