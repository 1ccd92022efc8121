"""Stories in the store: one row per story, with its region and why it is there.

What it does: stores classified items so that one story is one row (an item matches
a stored one by key or by canonical URL, so two feeds carrying a story share it),
counts what a batch did (new, updated, unchanged), keeps an editor's manual region
through re-polls and re-classification, and lists, streams and looks up items.
What it does not do: classify (it stores the `Classification` it is given), fetch,
or delete items: items stay for the archive and for editions that name them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    CursorResult,
    RowMapping,
    Select,
    bindparam,
    insert,
    select,
    text,
    update,
)

from bot.clock import ensure_utc
from bot.errors import NotFoundError
from bot.store.base import CHUNK, StoreBase, chunks
from bot.store.feeds import feed_state_row, feed_state_upsert
from bot.store.schema import items
from bot.types import Classification, FeedState, Item, RuleMatch, StoredItem, UpsertResult

_CLASSIFICATION = ("region", "candidates", "rule")
# Serialises item writers on PostgreSQL: the canonical-URL match cannot be a unique
# constraint, so two pollers must not both decide "new" for one story.
_PG_ITEMS_LOCK = 0x726F756E6469
_RULE_FIELDS = tuple(field.name for field in fields(RuleMatch))

# An upsert batch's statements, built once: building and caching-keying a statement
# per call costs more CPU than running it. They hold no dialect; each engine
# compiles them once (its compiled cache) and then only binds parameters.
_LOCK_ITEMS = text("SELECT pg_advisory_xact_lock(:k)")
_MATCH_KEYS = (
    select(items).where(items.c.key.in_(bindparam("b_keys", expanding=True))).order_by(items.c.id)
)
# The rows a key already matched are left out: the key pass has filed them under
# their URL too, so reading them again (content, JSON, dates) would change nothing.
_MATCH_URLS = (
    select(items)
    .where(
        items.c.canonical_url.in_(bindparam("b_urls", expanding=True)),
        items.c.key.not_in(bindparam("b_keys", expanding=True)),
    )
    .order_by(items.c.id)
)
_INSERT_ITEMS = insert(items)
_UPDATE_ITEM = update(items).where(items.c.id == bindparam("b_id"))
_TOUCH_ITEMS = (
    update(items)
    .where(items.c.id.in_(bindparam("b_ids", expanding=True)))
    .values(last_seen=bindparam("b_now", type_=items.c.last_seen.type))
)


class ItemsMixin(StoreBase):
    def upsert_items(
        self,
        rows: Sequence[tuple[Item, Classification]],
        now: datetime,
        *,
        feed_state: FeedState | None = None,
    ) -> UpsertResult:
        """Store a batch of classified items in one transaction, with bulk statements
        (one INSERT of every new row, one executemany UPDATE of the changed ones).

        With `feed_state`, the feed's new state is saved in the same transaction: a
        poll's stories and the validators that say they were read land together.
        A matched item is `updated` when its content or its stored classification
        changed (never the classification of an editor's manual placement), else
        `unchanged`; both move last_seen. The stored key, feed and first_seen stay.
        """
        now = ensure_utc(now)
        batch = _dedupe(rows)
        if not batch:
            if feed_state is not None:
                with self._write() as conn:
                    conn.execute(feed_state_upsert(self), feed_state_row(feed_state))
            return UpsertResult()
        with self._write() as conn:
            if self.dialect == "postgresql":
                conn.execute(_LOCK_ITEMS, {"k": _PG_ITEMS_LOCK})
            by_key, by_url = _load_matches(conn, [item for item, _ in batch])
            plan = _Plan(now)
            for item, classification in batch:
                row = by_key.get(item.key)
                if row is None and item.canonical_url:
                    row = by_url.get(item.canonical_url)
                plan.add(item, classification, row)
            plan.execute(conn)
            if feed_state is not None:
                conn.execute(feed_state_upsert(self), feed_state_row(feed_state))
        return plan.result()

    def get_item(self, key: str) -> StoredItem | None:
        with self._read() as conn:
            row = conn.execute(select(items).where(items.c.key == key)).mappings().first()
        return None if row is None else _stored(row)

    def get_classification(self, key: str) -> Classification | None:
        """The stored decision for an item (region, deciding rule, other candidates)."""
        query = select(items.c.region, items.c.rule, items.c.candidates).where(items.c.key == key)
        with self._read() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return None
        return Classification(row["region"], _rule(row["rule"]), tuple(row["candidates"]))

    def list_items(
        self,
        *,
        region: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        feed: str | None = None,
        limit: int | None = None,
    ) -> list[StoredItem]:
        """Items newest first by coalesce(published, first_seen), `since` <= t < `until`."""
        query: Select[Any] = select(items).order_by(items.c.sort_at.desc(), items.c.id.desc())
        if region is not None:
            query = query.where(items.c.region == region)
        if feed is not None:
            query = query.where(items.c.feed == feed)
        if since is not None:
            query = query.where(items.c.sort_at >= ensure_utc(since))
        if until is not None:
            query = query.where(items.c.sort_at < ensure_utc(until))
        if limit is not None:
            query = query.limit(max(limit, 0))
        with self._read() as conn:
            return [_stored(row) for row in conn.execute(query).mappings()]

    def iter_items(self, batch_size: int = 1000) -> Iterator[StoredItem]:
        """Every item in insertion order, `batch_size` rows in memory at a time.

        Each batch is its own short query (keyset on id), so no transaction stays open
        while the caller works, and items written meanwhile with a higher id still come.
        """
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        last_id = 0
        while True:
            query = select(items).where(items.c.id > last_id).order_by(items.c.id).limit(batch_size)
            with self._read() as conn:
                rows = conn.execute(query).mappings().all()
            yield from (_stored(row) for row in rows)
            if len(rows) < batch_size:
                return
            last_id = rows[-1]["id"]

    def set_classification(self, key: str, classification: Classification) -> None:
        """Store a new classification, unless an editor placed the item by hand."""
        with self._write() as conn:
            manual = conn.execute(
                select(items.c.region_manual).where(items.c.key == key)
            ).scalar_one_or_none()
            if manual is None:
                raise _not_found(key)
            if not manual:
                conn.execute(
                    update(items)
                    .where(items.c.key == key)
                    .values(**_classification_values(classification))
                )

    def set_region_manual(self, key: str, region: str) -> None:
        """An editor's placement: kept by every later upsert and re-classification."""
        with self._write() as conn:
            done = conn.execute(
                update(items).where(items.c.key == key).values(region=region, region_manual=True)
            )
            if done.rowcount == 0:
                raise _not_found(key)

    def bulk_set_classifications(self, rows: Sequence[tuple[str, Classification]]) -> int:
        """Store many classifications at once; returns how many stored items changed.

        Unknown keys and editors' manual placements are skipped.
        """
        wanted = dict(rows)
        changes: list[dict[str, Any]] = []
        columns = (items.c.key, items.c.region_manual, *(items.c[n] for n in _CLASSIFICATION))
        with self._write() as conn:
            for part in chunks(list(wanted)):
                found = conn.execute(select(*columns).where(items.c.key.in_(part))).mappings()
                for row in found:
                    values = _classification_values(wanted[row["key"]])
                    if not row["region_manual"] and _differs(row, values):
                        changes.append({"b_key": row["key"], **values})
            if changes:
                conn.execute(update(items).where(items.c.key == bindparam("b_key")), changes)
        return len(changes)


class _Plan:
    """What one upsert batch will write, built row by row, executed in bulk."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.inserts: list[dict[str, Any]] = []
        self.changes: list[dict[str, Any]] = []
        self.touched: list[int] = []
        self.claimed: set[int] = set()

    def add(self, item: Item, classification: Classification, row: RowMapping | None) -> None:
        if row is None:
            values = {**_item_values(item), **_classification_values(classification)}
            self.inserts.append(
                {
                    **values,
                    "key": item.key,
                    "feed": item.feed,
                    "region_manual": False,
                    "first_seen": self.now,
                    "last_seen": self.now,
                    "sort_at": values["published"] or self.now,
                }
            )
            return
        if row["id"] in self.claimed:  # a second incoming item for one stored story
            return
        self.claimed.add(row["id"])
        values = _item_values(item)
        if row["region_manual"]:
            values.update({name: row[name] for name in _CLASSIFICATION})
        else:
            values.update(_classification_values(classification))
        values["sort_at"] = values["published"] or row["first_seen"]
        if _differs(row, values):
            self.changes.append({"b_id": row["id"], **values, "last_seen": self.now})
        else:
            self.touched.append(row["id"])

    def execute(self, conn: Connection) -> None:
        if self.inserts:
            conn.execute(_INSERT_ITEMS, self.inserts)
        if self.changes:
            conn.execute(_UPDATE_ITEM, self.changes)
        for part in chunks(self.touched):
            conn.execute(_TOUCH_ITEMS, {"b_ids": list(part), "b_now": self.now})

    def result(self) -> UpsertResult:
        return UpsertResult(
            new=len(self.inserts), updated=len(self.changes), unchanged=len(self.touched)
        )


def _dedupe(rows: Sequence[tuple[Item, Classification]]) -> list[tuple[Item, Classification]]:
    """The first of every set of rows that share a key or a canonical URL."""
    keys: set[str] = set()
    urls: set[str] = set()
    kept = []
    for item, classification in rows:
        if item.key in keys or (item.canonical_url and item.canonical_url in urls):
            continue
        keys.add(item.key)
        if item.canonical_url:
            urls.add(item.canonical_url)
        kept.append((item, classification))
    return kept


def _load_matches(
    conn: Connection, batch: Sequence[Item]
) -> tuple[dict[str, RowMapping], dict[str, RowMapping]]:
    """Stored rows by key and by canonical URL (the oldest row where URLs repeat)."""
    by_key: dict[str, RowMapping] = {}
    by_url: dict[str, RowMapping] = {}
    for part in chunks([item.key for item in batch]):
        _file_rows(conn.execute(_MATCH_KEYS, {"b_keys": list(part)}), by_key, by_url)
    # The batch holds each URL once, so all rows of a URL come in one query (the
    # oldest first) however the batch is cut.
    for items_part in chunks(batch, CHUNK // 2):  # a URL and a key per item
        urls = [item.canonical_url for item in items_part if item.canonical_url]
        if urls:
            params = {"b_urls": urls, "b_keys": [item.key for item in items_part]}
            _file_rows(conn.execute(_MATCH_URLS, params), by_key, by_url)
    return by_key, by_url


def _file_rows(
    found: CursorResult[Any], by_key: dict[str, RowMapping], by_url: dict[str, RowMapping]
) -> None:
    for row in found.mappings():
        by_key.setdefault(row["key"], row)
        by_url.setdefault(row["canonical_url"], row)


def _differs(row: RowMapping, values: Mapping[str, Any]) -> bool:
    return any(row[name] != value for name, value in values.items())


def _item_values(item: Item) -> dict[str, Any]:
    return {
        "url": item.url,
        "canonical_url": item.canonical_url,
        "title": item.title,
        "lede": item.lede,
        "content": item.content,
        "author": item.author,
        "published": None if item.published is None else ensure_utc(item.published),
        "updated": None if item.updated is None else ensure_utc(item.updated),
        "tags": list(item.tags),
        "image_url": item.image_url,
        "image_credit": item.image_credit,
    }


def _classification_values(classification: Classification) -> dict[str, Any]:
    rule = classification.rule
    return {
        "region": classification.region,
        "candidates": list(classification.candidates),
        # asdict's deep copy, by hand: every field of a RuleMatch is a str.
        "rule": None if rule is None else {name: getattr(rule, name) for name in _RULE_FIELDS},
    }


def _rule(value: Any) -> RuleMatch | None:
    if not isinstance(value, dict):
        return None
    return RuleMatch(
        kind=str(value.get("kind", "")),
        region=str(value.get("region", "")),
        pattern=str(value.get("pattern", "")),
        field=str(value.get("field", "")),
        matched=str(value.get("matched", "")),
    )


def _stored(row: RowMapping) -> StoredItem:
    item = Item(
        key=row["key"],
        feed=row["feed"],
        url=row["url"],
        canonical_url=row["canonical_url"],
        title=row["title"],
        lede=row["lede"],
        content=row["content"],
        author=row["author"],
        published=row["published"],
        updated=row["updated"],
        tags=tuple(row["tags"] or ()),
        image_url=row["image_url"],
        image_credit=row["image_credit"],
    )
    return StoredItem(
        item=item,
        region=row["region"],
        candidates=tuple(row["candidates"] or ()),
        region_manual=bool(row["region_manual"]),
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
    )


def _not_found(key: str) -> NotFoundError:
    return NotFoundError(f"no stored item with key {key!r} (see `roundup items`)")
