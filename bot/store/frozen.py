"""The frozen content of an approved edition, its renders, and the plan's transport.

What it does: keeps, per edition, the stories exactly as the approval saw them
(with the approval's hash), the render of each region set the send goes to (made
once, from that frozen content), and the transport the delivery plan was made for.
A frozen snapshot is replaced only by a new approval; a render, once stored, is
never replaced (two senders storing the same region set keep the first).
What it does not do: decide when to freeze or render (`bot.edition`, `bot.send`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from bot.clock import ensure_utc
from bot.store.base import StoreBase
from bot.store.schema import edition_frozen, edition_renders, send_plans
from bot.types import Item, StoredItem

REGION_SEP = "|"


@dataclass(frozen=True)
class FrozenRender:
    """One stored render of an edition for a region set."""

    regions: tuple[str, ...]
    approved_hash: str
    subject: str
    preheader: str
    html: str
    text: str
    sections: tuple[str, ...]
    story_count: int


@dataclass(frozen=True)
class SendPlan:
    edition_key: str
    transport: str
    planned_at: datetime


class FrozenMixin(StoreBase):
    def freeze_items(
        self, edition_key: str, approved_hash: str, items: Mapping[str, StoredItem], now: datetime
    ) -> None:
        """Keep `items` as the approved content of `edition_key` (replacing an older approval's)."""
        values = {
            "edition_key": edition_key,
            "approved_hash": approved_hash,
            "items": [_item_json(s) for s in items.values()],
            "frozen_at": ensure_utc(now),
        }
        stmt = self._upsert(edition_frozen, values, ["edition_key"], list(values)[1:])
        with self._write() as conn:
            conn.execute(stmt)

    def frozen_items(self, edition_key: str) -> tuple[str, dict[str, StoredItem]] | None:
        """(approved hash, stories by key) as frozen at approval; None if never frozen."""
        query = select(edition_frozen).where(edition_frozen.c.edition_key == edition_key)
        with self._read() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return None
        stored = [_item_from_json(raw) for raw in row["items"]]
        return row["approved_hash"], {s.key: s for s in stored}

    def save_render(self, edition_key: str, render: FrozenRender, now: datetime) -> FrozenRender:
        """Store a render unless one for that region set exists; returns the stored one."""
        values = {
            "edition_key": edition_key,
            "regions": REGION_SEP.join(render.regions),
            "approved_hash": render.approved_hash,
            "subject": render.subject,
            "preheader": render.preheader,
            "html": render.html,
            "text": render.text,
            "sections": list(render.sections),
            "story_count": render.story_count,
            "rendered_at": ensure_utc(now),
        }
        with self._write() as conn:
            conn.execute(self._insert(edition_renders).values(**values).on_conflict_do_nothing())
        stored = self.get_render(edition_key, render.regions)
        assert stored is not None
        return stored

    def get_render(self, edition_key: str, regions: Sequence[str]) -> FrozenRender | None:
        query = select(edition_renders).where(
            edition_renders.c.edition_key == edition_key,
            edition_renders.c.regions == REGION_SEP.join(regions),
        )
        with self._read() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return None
        return FrozenRender(
            regions=tuple(regions),
            approved_hash=row["approved_hash"],
            subject=row["subject"],
            preheader=row["preheader"],
            html=row["html"],
            text=row["text"],
            sections=tuple(row["sections"] or ()),
            story_count=row["story_count"],
        )

    def drop_renders(self, edition_key: str) -> None:
        """Forget an edition's renders (a new approval makes new ones)."""
        with self._write() as conn:
            conn.execute(
                delete(edition_renders).where(edition_renders.c.edition_key == edition_key)
            )

    def save_send_plan(self, edition_key: str, transport: str, now: datetime) -> None:
        values = {"edition_key": edition_key, "transport": transport, "planned_at": ensure_utc(now)}
        stmt = self._upsert(send_plans, values, ["edition_key"], ["transport"])
        with self._write() as conn:
            conn.execute(stmt)

    def send_plan(self, edition_key: str) -> SendPlan | None:
        query = select(send_plans).where(send_plans.c.edition_key == edition_key)
        with self._read() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return None
        return SendPlan(row["edition_key"], row["transport"], ensure_utc(row["planned_at"]))


def _when(value: datetime | None) -> str | None:
    return ensure_utc(value).isoformat() if value is not None else None


def _parse(value: Any) -> datetime | None:
    return ensure_utc(datetime.fromisoformat(value)) if isinstance(value, str) else None


def _item_json(stored: StoredItem) -> dict[str, Any]:
    item = stored.item
    return {
        "key": item.key,
        "feed": item.feed,
        "url": item.url,
        "canonical_url": item.canonical_url,
        "title": item.title,
        "lede": item.lede,
        "content": item.content,
        "author": item.author,
        "published": _when(item.published),
        "updated": _when(item.updated),
        "tags": list(item.tags),
        "image_url": item.image_url,
        "image_credit": item.image_credit,
        "region": stored.region,
        "candidates": list(stored.candidates),
        "region_manual": stored.region_manual,
        "first_seen": _when(stored.first_seen),
        "last_seen": _when(stored.last_seen),
    }


def _item_from_json(raw: Mapping[str, Any]) -> StoredItem:
    item = Item(
        key=raw["key"],
        feed=raw["feed"],
        url=raw["url"],
        canonical_url=raw["canonical_url"],
        title=raw["title"],
        lede=raw.get("lede") or "",
        content=raw.get("content") or "",
        author=raw.get("author"),
        published=_parse(raw.get("published")),
        updated=_parse(raw.get("updated")),
        tags=tuple(raw.get("tags") or ()),
        image_url=raw.get("image_url"),
        image_credit=raw.get("image_credit"),
    )
    return StoredItem(
        item=item,
        region=raw["region"],
        candidates=tuple(raw.get("candidates") or ()),
        region_manual=bool(raw.get("region_manual")),
        first_seen=_parse(raw.get("first_seen")),
        last_seen=_parse(raw.get("last_seen")),
    )
