"""The renders a send is made of: one per region set, made once from the frozen content.

What it does: gives each batch the render of its region set, read from the store,
or made from the stories frozen at approval (never from the stories as the feeds
have them now) and stored, so every later batch and every resume sends the same
bytes. Before making a render it checks that the frozen content under the current
config still hashes to the approval; a config changed since the approval stops the
send with a message saying so, instead of mailing content nobody approved.
What it does not do: decide who gets which region set (`bot.send.plan`) or send.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bot.context import Context
from bot.errors import EditionError
from bot.render import Rendered, content_hash, render_edition
from bot.store.frozen import FrozenRender
from bot.types import Edition, StoredItem


class FrozenRenders:
    """The renders of one sending edition, by region set."""

    def __init__(self, ctx: Context, edition: Edition, items: Mapping[str, StoredItem]) -> None:
        self.ctx, self.edition, self.items = ctx, edition, items
        self._cache: dict[tuple[str, ...], Rendered] = {}
        self._checked = False

    def prepare(self, region_sets: Iterable[tuple[str, ...]]) -> None:
        """Make (or load) the render of every region set before the first batch."""
        for regions in dict.fromkeys(region_sets):
            self.get(regions)

    def get(self, regions: tuple[str, ...]) -> Rendered:
        rendered = self._cache.get(regions)
        if rendered is None:
            stored = self.ctx.store.get_render(self.edition.key, regions)
            if stored is None or stored.approved_hash != self.edition.approved_hash:
                stored = self._make(regions)
            rendered = Rendered(
                subject=stored.subject,
                preheader=stored.preheader,
                html=stored.html,
                text=stored.text,
                regions=stored.sections,
                story_count=stored.story_count,
            )
            self._cache[regions] = rendered
        return rendered

    def _make(self, regions: tuple[str, ...]) -> FrozenRender:
        self._check()
        rendered = render_edition(self.edition, self.items, self.ctx.config, regions=regions)
        assert self.edition.approved_hash is not None
        render = FrozenRender(
            regions=regions,
            approved_hash=self.edition.approved_hash,
            subject=rendered.subject,
            preheader=rendered.preheader,
            html=rendered.html,
            text=rendered.text,
            sections=rendered.regions,
            story_count=rendered.story_count,
        )
        return self.ctx.store.save_render(self.edition.key, render, self.ctx.clock.now())

    def _check(self) -> None:
        if self._checked:
            return
        if content_hash(self.edition, self.items, self.ctx.config) != self.edition.approved_hash:
            raise EditionError(
                f"the newsletter settings in the config changed since edition "
                f"{self.edition.key} was approved, and part of it is not rendered yet; "
                "restore the settings it was approved with, then resume the send"
            )
        self._checked = True
