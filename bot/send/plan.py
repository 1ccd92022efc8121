"""Who gets which render: pure decisions on region sets and the send's messages.

What it does: turns a subscriber's chosen regions into the canonical region set a
render covers (section names in config order; everyone who chose nothing gets the
whole edition), tells whether an edition leaves a region set empty (then those
subscribers are skipped and counted), builds the `Message` for a render (List-
Unsubscribe with the per-recipient URL as a token and the mailto, RFC 8058
one-click, categories, custom_args) and decides which batches a run may send.
What it does not do: read the store, render, or send.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from bot.config import Config
from bot.render import Rendered
from bot.render.model import edition_sections
from bot.render.tokens import token
from bot.send.message import Message
from bot.types import Batch, BatchState, Edition, StoredItem

ONE_CLICK = "List-Unsubscribe=One-Click"


def region_set(config: Config, chosen: Collection[str] | None) -> tuple[str, ...]:
    """The sections a subscriber's render covers, as names in config order.

    None (no choice) is every section, the fallback included. A choice names regions
    by name or slug, in any case; names the config no longer has are ignored, so a
    choice can come out empty.
    """
    pairs = [(r.name, r.id) for r in config.regions] + [(config.fallback.name, config.fallback.id)]
    if chosen is None:
        return tuple(name for name, _ in pairs)
    asked = {c.casefold() for c in chosen}
    return tuple(
        name for name, slug in pairs if name.casefold() in asked or slug.casefold() in asked
    )


class RegionSets:
    """Which region sets an edition fills; remembered, since a send asks per subscriber."""

    def __init__(self, config: Config, edition: Edition, items: Mapping[str, StoredItem]) -> None:
        self.config, self.edition, self.items = config, edition, items
        self._filled: dict[tuple[str, ...], bool] = {}

    def for_subscriber(self, chosen: Collection[str] | None) -> tuple[str, ...] | None:
        """The subscriber's region set, or None when the edition has nothing for it."""
        regions = region_set(self.config, chosen)
        filled = self._filled.get(regions)
        if filled is None:
            filled = bool(regions) and bool(
                edition_sections(self.edition, self.items, self.config, regions)
            )
            self._filled[regions] = filled
        return regions if filled else None


def unsubscribe_headers(config: Config) -> dict[str, str]:
    """List-Unsubscribe (the recipient's URL as a token, and the mailto when configured)
    and List-Unsubscribe-Post for RFC 8058 one-click unsubscription."""
    links = [f"<{token('unsubscribe_url')}>"]
    mailto = config.newsletter.unsubscribe_mailto
    if mailto:
        address = mailto.removeprefix("mailto:")
        links.append(f"<mailto:{address}?subject=unsubscribe>")
    return {"List-Unsubscribe": ", ".join(links), "List-Unsubscribe-Post": ONE_CLICK}


def edition_message(
    config: Config,
    rendered: Rendered,
    *,
    custom_args: Mapping[str, str],
    subject: str | None = None,
) -> Message:
    """The message for one render of an edition."""
    return Message(
        subject=subject if subject is not None else rendered.subject,
        html=rendered.html,
        text=rendered.text,
        headers=unsubscribe_headers(config),
        categories=tuple(config.send.categories),
        custom_args=dict(custom_args),
    )


def subject_for_test_copy(config: Config, rendered_subject: str) -> str:
    """A test copy's subject: the configured prefix instead of the renderer's own."""
    return config.send.test_prefix + rendered_subject.removeprefix("[TEST] ")


def sendable(batches: Sequence[Batch], *, resume: bool, retry_ambiguous: bool) -> list[Batch]:
    """The batches a run sends, in order: pending ones; on a resume also the failed
    ones (never accepted); ambiguous ones only when the operator asks."""
    states = {BatchState.PENDING}
    if resume:
        states.add(BatchState.FAILED)
    if retry_ambiguous:
        states.add(BatchState.AMBIGUOUS)
    return [b for b in batches if b.state in states]
