"""Dedupe, merge, caps and editor changes on entries (pure, table-driven)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.edition import Candidate, dedupe, merge_entries, same_story, select_entries
from bot.edition.dedupe import framed_cores, normalise_title, similar_titles
from bot.edition.entries import (
    canonical,
    clean_text,
    decided,
    move_entry,
    reorder_entry,
    set_flag,
    set_text,
)
from bot.errors import NotFoundError, UsageError
from bot.types import EditionEntry, Item, StoredItem

T0 = datetime(2026, 11, 20, 12, tzinfo=UTC)


def story(
    key: str,
    title: str = "",
    *,
    url: str | None = None,
    hours: float = 0,
    region: str = "Europe",
    lede: str = "",
    image: str | None = None,
    published: bool = True,
) -> StoredItem:
    at = T0 + timedelta(hours=hours)
    item = Item(
        key=key,
        feed="f",
        url=url or f"https://example.org/{key}",
        canonical_url=url or f"https://example.org/{key}",
        title=title or f"A story called {key} about the world",
        lede=lede,
        published=at if published else None,
        image_url=image,
    )
    return StoredItem(item=item, region=region, first_seen=at)


# --- same story -------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "normalised"),
    [
        ("Iran’s New Gulf Strategy", "irans new gulf strategy"),
        ("  U.S.  and   Iran: talks — again! ", "us and iran talks again"),
        ("Türkiye’s pivot", "turkiyes pivot"),
        ("ＦＵＬＬ width", "full width"),
        ("snake_case / slashes", "snake case slashes"),
        ("x" * 5000, "x" * 300),
    ],
)
def test_normalise_title(title: str, normalised: str) -> None:
    assert normalise_title(title) == normalised


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("Iran's new Gulf strategy, explained", "Iran’s New Gulf Strategy — Explained", True),
        ("The U.S. should leave Syria now", "The US should leave Syria now", True),
        ("Why the Ukraine ceasefire talks stalled", "Why the Ukraine ceasefire talk stalled", True),
        ("Why the Ukraine ceasefire talks stalled", "Why the Gaza ceasefire talks stalled", False),
        (
            "Episode 12: the Gulf and the great powers",
            "Episode 13: the Gulf and the great powers",
            False,
        ),
        ("NATO summit: 5 things to watch", "NATO summit: 5 things to watch!", True),
        ("What the election means for Iran", "What the election means for Iraq", False),
        ("What the election means for Iran", "What the election means for Iran and Israel", False),
        ("A story called a about the world", "A story called b about the world", False),
        ("Weekly update", "Weekly update", False),  # too short to judge
        ("Weekly update", "Weekly updates", False),
        ("US sanctions Iran over drones", "Iran sanctions US over drones", False),
        ("", "", False),
    ],
)
def test_similar_titles(a: str, b: str, same: bool) -> None:
    assert similar_titles(normalise_title(a), normalise_title(b)) is same
    assert similar_titles(normalise_title(b), normalise_title(a)) is same


ELECTION = "What the election means for Iran"


@pytest.mark.parametrize(
    ("title", "cores"),
    [
        ("Opinion: What the election means for Iran", {"what the election means for iran"}),
        ("What the election means for Iran | RS", {"what the election means for iran"}),
        ("Plain title with no separator at all", set()),
        ("Short: core", set()),  # a core under 20 characters proves nothing
    ],
)
def test_framed_cores(title: str, cores: set[str]) -> None:
    assert framed_cores(title) == cores


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (
            story("a", url="https://x.org/p"),
            story("b", "Other words entirely here", url="https://x.org/p"),
            True,
        ),
        (
            story("a", url="https://x.org/p/"),
            story("b", "Other words entirely here", url="https://x.org/p"),
            True,
        ),
        (
            story("a", "Same title for both of these"),
            story("b", "Same title for both of these"),
            True,
        ),
        (
            story("a", "One thing about Europe today"),
            story("b", "Quite another matter in Asia"),
            False,
        ),
        (story("a", "Short"), story("a", "Different"), True),  # same key
        (story("a", ELECTION), story("b", f"Opinion: {ELECTION}"), True),
        (story("a", ELECTION), story("b", f"{ELECTION} | RS Daily"), True),
        (story("a", ELECTION), story("b", f"{ELECTION} - Responsible Statecraft"), True),
        (story("a", ELECTION), story("b", f"Analysis — {ELECTION} — RS"), False),  # both ends
        (story("a", ELECTION), story("b", f"{ELECTION} and for Israel"), False),
        (story("a", ELECTION), story("b", f"{ELECTION}: the view from four capitals"), False),
        (story("a", "Iran: what the vote means"), story("b", "Iraq: what the vote means"), False),
    ],
)
def test_same_story(a: StoredItem, b: StoredItem, same: bool) -> None:
    assert same_story(a.item, b.item) is same


# --- dedupe -----------------------------------------------------------------

TITLE = "Iran's new Gulf strategy, explained"


@pytest.mark.parametrize(
    ("items", "taken", "kept"),
    [
        ([], [], []),
        ([story("a"), story("b")], [], ["a", "b"]),
        # The earliest copy wins, wherever it comes in the input.
        ([story("late", TITLE, hours=5), story("early", TITLE, hours=1)], [], ["early"]),
        ([story("early", TITLE, hours=1), story("late", TITLE, hours=5)], [], ["early"]),
        # Same time: the more complete copy wins.
        ([story("bare", TITLE), story("full", TITLE, lede="L", image="i.jpg")], [], ["full"]),
        # Same time, same completeness: the smaller key, never input order.
        ([story("k2", TITLE), story("k1", TITLE)], [], ["k1"]),
        # No published date: first seen counts.
        ([story("x", TITLE, hours=3, published=False), story("y", TITLE, hours=4)], [], ["x"]),
        # Same canonical URL under two keys.
        (
            [
                story("a", url="https://x.org/p", hours=2),
                story("b", "Z" * 30, url="https://x.org/p"),
            ],
            [],
            ["b"],
        ),
        # A framed copy ("Opinion: ...") is the same story.
        ([story("a", ELECTION, hours=1), story("b", f"Opinion: {ELECTION}", hours=2)], [], ["a"]),
        # Three copies chained through different evidence form one group.
        (
            [
                story("a", TITLE, url="https://x.org/1", hours=3),
                story("b", "Something else altogether here", url="https://x.org/1", hours=2),
                story("c", TITLE.upper(), hours=1),
            ],
            [],
            ["c"],
        ),
        # A copy of a story already placed (or sent) is dropped, even if earlier.
        ([story("copy", TITLE, hours=-5), story("other")], [story("placed", TITLE)], ["other"]),
        # Distinct stories keep their input order.
        ([story("c", hours=1), story("a", hours=3), story("b", hours=2)], [], ["c", "a", "b"]),
    ],
)
def test_dedupe(items: list[StoredItem], taken: list[StoredItem], kept: list[str]) -> None:
    assert [s.key for s in dedupe(items, taken=taken)] == kept


def test_dedupe_scales_to_a_flood_of_distinct_titles() -> None:
    # 1,000 distinct titles of similar length: the length window and the quick
    # upper bounds keep this to a fraction of a second (bench/ measures it).
    items = [story(f"k{i}", f"Report number {i} on the state of the world") for i in range(1000)]
    assert len(dedupe(items)) == 1000


# --- merge ------------------------------------------------------------------


def e(key: str, region: str = "Europe", position: int = 0, **flags: object) -> EditionEntry:
    return EditionEntry(item_key=key, region=region, position=position, **flags)  # type: ignore[arg-type]


def c(key: str, hours: float, region: str = "Europe") -> Candidate:
    return Candidate(key, region, T0 + timedelta(hours=hours))


def order(entries: tuple[EditionEntry, ...]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for x in sorted(entries, key=lambda x: x.position):
        out.setdefault(x.region, []).append(x.item_key)
    return out


@pytest.mark.parametrize(
    ("existing", "candidates", "expected"),
    [
        # A first draft: newest first per section.
        (
            [],
            [c("a", 1), c("b", 3), c("c", 2), c("m", 1, "Middle East")],
            {"Europe": ["b", "c", "a"], "Middle East": ["m"]},
        ),
        # Refreshing an untouched draft keeps it newest first.
        (
            [e("b", position=0), e("a", position=1)],
            [c("a", 1), c("b", 3), c("new", 2)],
            {"Europe": ["b", "new", "a"]},
        ),
        # The editor's order is kept; a new story slots in above the first older one.
        (
            [e("a", position=0), e("b", position=1)],
            [c("a", 1), c("b", 3), c("new", 2)],
            {"Europe": ["new", "a", "b"]},
        ),
        # Pinned stories stay on top, whatever the dates.
        (
            [e("old", position=0, pinned=True)],
            [c("old", 0), c("new", 9)],
            {"Europe": ["old", "new"]},
        ),
        # Excluded, moved and edited entries stay exactly as they are.
        (
            [
                e("x", position=0, excluded=True),
                e("m", "Asia", 0, moved=True),
                e("h", position=1, headline="H"),
            ],
            [c("x", 5), c("m", 4, "Europe"), c("h", 3), c("n", 1)],
            {"Europe": ["x", "h", "n"], "Asia": ["m"]},
        ),
        # A story re-classified since goes to its new section (unless moved by hand).
        (
            [e("r", "Europe", 0), e("s", "Europe", 1)],
            [c("r", 5, "Asia"), c("s", 4), c("t", 6, "Asia")],
            {"Europe": ["s"], "Asia": ["t", "r"]},
        ),
        # Stories no longer in the window are kept (the editor saw them).
        ([e("gone", position=0)], [c("new", 1)], {"Europe": ["gone", "new"]}),
        # A candidate listed twice is added once.
        ([], [c("a", 1), c("a", 1)], {"Europe": ["a"]}),
    ],
)
def test_merge_entries(
    existing: list[EditionEntry], candidates: list[Candidate], expected: dict[str, list[str]]
) -> None:
    merged = merge_entries(existing, candidates)
    assert order(merged) == expected
    for region, keys in expected.items():
        assert [x.position for x in merged if x.region == region] == list(range(len(keys)))


def test_merge_keeps_every_decision_on_existing_entries() -> None:
    existing = [
        e("p", position=0, pinned=True, headline="Pinned headline"),
        e("x", position=1, excluded=True, lede="Own lede"),
        e("m", "Asia", 0, moved=True),
    ]
    merged = merge_entries(existing, [c("p", 1), c("x", 2), c("m", 3, "Europe"), c("n", 9)])
    by_key = {x.item_key: x for x in merged}
    assert by_key["p"].pinned and by_key["p"].headline == "Pinned headline"
    assert by_key["x"].excluded and by_key["x"].lede == "Own lede"
    assert by_key["m"].region == "Asia" and by_key["m"].moved
    assert not any((by_key["n"].pinned, by_key["n"].excluded, by_key["n"].moved))


# --- caps -------------------------------------------------------------------

REGIONS = ("Middle East", "Asia", "Europe", "More")


def section(region: str, *keys: str, **flags: object) -> list[EditionEntry]:
    return [e(k, region, i, **flags) for i, k in enumerate(keys)]


@pytest.mark.parametrize(
    ("entries", "per_region", "total", "expected"),
    [
        # Under the caps nothing is dropped.
        (section("Europe", "a", "b"), 8, 25, {"Europe": ["a", "b"]}),
        # The per-region cap keeps the first stories in section order.
        (section("Europe", "a", "b", "c", "d"), 2, 25, {"Europe": ["a", "b"]}),
        # The total cap is shared round-robin in region order: no region crowds out.
        (
            section("Europe", "e1", "e2", "e3", "e4")
            + section("Middle East", "m1", "m2")
            + section("Asia", "a1"),
            8,
            4,
            {"Middle East": ["m1", "m2"], "Asia": ["a1"], "Europe": ["e1"]},
        ),
        (
            section("Europe", "e1", "e2", "e3")
            + section("Middle East", "m1", "m2", "m3")
            + section("More", "f1"),
            8,
            3,
            {"Middle East": ["m1"], "Europe": ["e1"], "More": ["f1"]},
        ),
        # On a tie the fallback section, last in the order, yields first.
        (
            section("Europe", "e1", "e2") + section("More", "f1", "f2"),
            8,
            3,
            {"Europe": ["e1", "e2"], "More": ["f1"]},
        ),
        # Excluded stories stay in the edition and count for nothing.
        (
            [
                *section("Europe", "x1", "x2", excluded=True),
                e("a", "Europe", 2),
                e("b", "Europe", 3),
            ],
            2,
            2,
            {"Europe": ["x1", "x2", "a", "b"]},
        ),
        # Stories an editor decided on are kept past the caps and use up room.
        (
            [*section("Europe", "p1", "p2", "p3", pinned=True), e("u", "Europe", 3)],
            2,
            25,
            {"Europe": ["p1", "p2", "p3"]},
        ),
        (
            [e("u1", "Europe", 0), e("h", "Europe", 1, headline="H"), e("u2", "Europe", 2)],
            2,
            25,
            {"Europe": ["u1", "h"]},
        ),
        (
            section("Middle East", "p1", "p2", "p3", pinned=True) + section("Europe", "e1", "e2"),
            8,
            4,
            {"Middle East": ["p1", "p2", "p3"], "Europe": ["e1"]},
        ),
        # A section the config does not order comes after the configured ones.
        (section("Elsewhere", "z") + section("Europe", "e"), 8, 1, {"Europe": ["e"]}),
        ([], 8, 25, {}),
    ],
)
def test_select_entries(
    entries: list[EditionEntry], per_region: int, total: int, expected: dict[str, list[str]]
) -> None:
    selected = select_entries(entries, per_region=per_region, total=total, regions=REGIONS)
    assert order(selected) == expected
    assert [x.region for x in selected] == sorted(
        (x.region for x in selected), key=lambda r: REGIONS.index(r) if r in REGIONS else 99
    )


# --- editor changes ---------------------------------------------------------

BASE = (
    e("p", position=0, pinned=True),
    e("a", position=1),
    e("b", position=2),
    e("c", position=3),
    e("m", "Asia", 0),
)


@pytest.mark.parametrize(
    ("key", "position", "expected", "detail"),
    [
        ("c", 1, ["p", "c", "a", "b"], {"from": 3, "to": 1}),
        ("a", 3, ["p", "b", "c", "a"], {"from": 1, "to": 3}),
        ("a", 99, ["p", "b", "c", "a"], {"from": 1, "to": 3}),  # past the end: last
        ("c", 0, ["p", "c", "a", "b"], {"from": 3, "to": 1}),  # not above a pinned story
        ("p", 2, ["p", "a", "b", "c"], None),  # a pinned story stays in the pinned block
        ("b", 2, ["p", "a", "b", "c"], None),  # already there
    ],
)
def test_reorder_entry(
    key: str, position: int, expected: list[str], detail: dict[str, object] | None
) -> None:
    entries, got = reorder_entry(BASE, key, position)
    assert order(entries)["Europe"] == expected
    assert order(entries)["Asia"] == ["m"]
    if detail is None:
        assert got is None
    else:
        assert got == {"item": key, "region": "Europe", **detail}


def test_reorder_rejects_a_negative_position() -> None:
    with pytest.raises(UsageError, match="positions count from 0"):
        reorder_entry(BASE, "a", -1)


@pytest.mark.parametrize(
    ("key", "flag", "value", "expected", "changed"),
    [
        ("b", "pinned", True, ["p", "b", "a", "c"], True),  # joins the end of the pinned block
        ("p", "pinned", False, ["p", "a", "b", "c"], True),  # tops the unpinned ones
        ("p", "pinned", True, ["p", "a", "b", "c"], False),
        ("a", "excluded", True, ["p", "a", "b", "c"], True),  # keeps its place
        ("a", "excluded", False, ["p", "a", "b", "c"], False),
    ],
)
def test_set_flag(key: str, flag: str, value: bool, expected: list[str], changed: bool) -> None:
    entries, detail = set_flag(BASE, key, flag, value)  # type: ignore[arg-type]
    assert order(entries)["Europe"] == expected
    assert (detail is not None) is changed
    assert next(x for x in entries if x.item_key == key).__getattribute__(flag) is value


def test_unpinning_the_first_of_two_pins_puts_it_below_the_other() -> None:
    entries = (
        e("p1", position=0, pinned=True),
        e("p2", position=1, pinned=True),
        e("a", position=2),
    )
    out, _ = set_flag(entries, "p1", "pinned", False)
    assert order(out)["Europe"] == ["p2", "p1", "a"]


@pytest.mark.parametrize(
    ("key", "region", "expected", "detail"),
    [
        (
            "a",
            "Asia",
            {"Europe": ["p", "b", "c"], "Asia": ["m", "a"]},
            {"item": "a", "from": "Europe", "to": "Asia"},
        ),
        (
            "p",
            "Asia",
            {"Europe": ["a", "b", "c"], "Asia": ["p", "m"]},
            {"item": "p", "from": "Europe", "to": "Asia"},
        ),
        (
            "a",
            "More",
            {"Europe": ["p", "b", "c"], "Asia": ["m"], "More": ["a"]},
            {"item": "a", "from": "Europe", "to": "More"},
        ),
        ("a", "Europe", {"Europe": ["p", "a", "b", "c"], "Asia": ["m"]}, None),
    ],
)
def test_move_entry(
    key: str, region: str, expected: dict[str, list[str]], detail: dict[str, object] | None
) -> None:
    entries, got = move_entry(BASE, key, region)
    assert order(entries) == expected
    assert got == detail
    assert next(x for x in entries if x.item_key == key).moved is (detail is not None)


@pytest.mark.parametrize(
    ("field", "value", "before", "detail"),
    [
        ("headline", "New headline", None, {"item": "a", "from": None, "to": "New headline"}),
        ("lede", "New lede", None, {"item": "a", "from": None, "to": "New lede"}),
        ("headline", None, "Old", {"item": "a", "from": "Old", "to": None}),
        ("headline", "Same", "Same", None),
    ],
)
def test_set_text(field: str, value: str | None, before: str | None, detail: object) -> None:
    entries = (e("a", **{field: before}),)
    out, got = set_text(entries, "a", field, value)  # type: ignore[arg-type]
    assert getattr(out[0], field) == value
    assert got == detail


@pytest.mark.parametrize(
    "fn",
    [
        lambda xs: reorder_entry(xs, "zz", 0),
        lambda xs: set_flag(xs, "zz", "pinned", True),
        lambda xs: move_entry(xs, "zz", "Asia"),
        lambda xs: set_text(xs, "zz", "lede", "x"),
    ],
)
def test_changes_to_a_story_not_in_the_edition_are_not_found(fn: object) -> None:
    with pytest.raises(NotFoundError, match="'zz' is not in this edition"):
        fn(BASE)  # type: ignore[operator]


def test_canonical_renumbers_and_puts_pins_first() -> None:
    messy = (e("a", position=5), e("b", position=9, pinned=True), e("c", position=7))
    assert [(x.item_key, x.position) for x in canonical(messy)] == [("b", 0), ("a", 1), ("c", 2)]


@pytest.mark.parametrize(
    ("value", "one_line", "limit", "out"),
    [
        ("  Hello\r\nBcc: evil@example.org ", True, 100, "Hello Bcc: evil@example.org"),
        ("Para one\r\n\r\nPara two\n", False, 100, "Para one\n\nPara two"),
        (None, True, 10, ""),
        ("   ", True, 10, ""),
    ],
)
def test_clean_text(value: str | None, one_line: bool, limit: int, out: str) -> None:
    assert clean_text(value, what="x", limit=limit, one_line=one_line) == out


def test_clean_text_bounds_the_length() -> None:
    with pytest.raises(UsageError, match="the subject is 201 characters long; at most 200"):
        clean_text("s" * 201, what="subject", limit=200, one_line=True)


# --- properties over many random editions -----------------------------------

SECTIONS = ("Middle East", "Asia", "Europe", "More")


@st.composite
def drafts(draw: st.DrawFn) -> tuple[EditionEntry, ...]:
    keys = draw(st.lists(st.integers(0, 40), unique=True, max_size=25))
    entries = []
    for n, k in enumerate(keys):
        entries.append(
            EditionEntry(
                item_key=f"s{k}",
                region=draw(st.sampled_from(SECTIONS)),
                position=n,
                pinned=draw(st.booleans()) and draw(st.booleans()),
                excluded=draw(st.booleans()) and draw(st.booleans()),
                headline="H" if draw(st.integers(0, 5)) == 0 else None,
            )
        )
    return canonical(entries)


@given(
    drafts(),
    st.lists(
        st.tuples(st.integers(0, 60), st.sampled_from(SECTIONS), st.integers(0, 300)), max_size=30
    ),
)
def test_merge_keeps_every_entry_and_its_relative_order(
    existing: tuple[EditionEntry, ...], raw: list[tuple[int, str, int]]
) -> None:
    candidates = [Candidate(f"s{k}", region, T0 + timedelta(hours=h)) for k, region, h in raw]
    merged = merge_entries(existing, candidates)
    keys = [x.item_key for x in merged]
    assert len(keys) == len(set(keys))
    assert set(keys) == {x.item_key for x in existing} | {c.item_key for c in candidates}
    first: dict[str, str] = {}
    for cand in candidates:
        first.setdefault(cand.item_key, cand.region)
    for region in SECTIONS:
        section = [x for x in merged if x.region == region]
        assert [x.position for x in section] == list(range(len(section)))
        pins = [x.pinned for x in section]
        assert pins == sorted(pins, reverse=True)  # pinned first
        stayed = [
            x.item_key
            for x in existing
            if x.region == region and (x.moved or first.get(x.item_key, region) == region)
        ]
        assert [x.item_key for x in section if x.item_key in stayed] == stayed
    before = {x.item_key: x for x in existing}
    for x in merged:
        if x.item_key in before:
            old = before[x.item_key]
            assert (x.pinned, x.excluded, x.moved, x.headline) == (
                old.pinned,
                old.excluded,
                old.moved,
                old.headline,
            )


@given(drafts(), st.integers(1, 6), st.integers(1, 12))
def test_select_never_breaks_a_cap_with_undecided_stories(
    entries: tuple[EditionEntry, ...], per_region: int, total: int
) -> None:
    selected = select_entries(entries, per_region=per_region, total=total, regions=SECTIONS)
    assert {replace(x, position=0) for x in selected} <= {replace(x, position=0) for x in entries}
    kept = {x.item_key for x in selected}
    assert all(x.item_key in kept for x in entries if x.excluded or decided(x))
    shown = [x for x in selected if not x.excluded]
    chosen = sum(1 for x in shown if decided(x))
    assert len(shown) <= max(total, chosen)
    for region in SECTIONS:
        in_region = [x for x in shown if x.region == region]
        assert len(in_region) <= max(per_region, sum(1 for x in in_region if decided(x)))
    # Nothing is dropped while there is room for it.
    available = [x for x in entries if not x.excluded]
    if len(available) <= total and all(
        sum(1 for x in available if x.region == r) <= per_region for r in SECTIONS
    ):
        assert kept == {x.item_key for x in entries}
