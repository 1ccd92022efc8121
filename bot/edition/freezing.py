"""The approved content, frozen: what a send is made from, and what changed since.

What it does: names, as a pure function, what differs between the stories an
approval saw and the stories in the store now (so a voided approval says why),
and gives a sending edition its frozen stories, refusing when none match the
approval's hash.
What it does not do: render, send, or decide when an approval is voided
(`bot.edition.editing` does, on `mark_sending`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from bot.config import Config
from bot.edition.drafting import edition_items
from bot.errors import EditionError
from bot.render import content_hash
from bot.store import Store
from bot.types import Edition, StoredItem

# The story fields an email shows, as an operator names them.
SHOWN = {
    "title": "title",
    "lede": "lede",
    "url": "link",
    "author": "author",
    "published": "date",
    "image_url": "image",
    "image_credit": "image credit",
}
MAX_NAMED = 3


def describe_changes(
    frozen: Mapping[str, StoredItem] | None, current: Mapping[str, StoredItem]
) -> str:
    """What changed between the approved stories and the current ones, in one line.

    When no story changed, the difference is in the config (the newsletter's text
    or its regions), which the approval's hash also covers.
    """
    if frozen is None:
        return "a story or the newsletter settings changed"
    changes: list[str] = []
    for key, before in frozen.items():
        after = current.get(key)
        if after is None:
            changes.append(f"story {key} is gone from the store")
            continue
        fields = [
            label
            for name, label in SHOWN.items()
            if getattr(before.item, name) != getattr(after.item, name)
        ]
        if before.region != after.region:
            fields.append("region")
        if fields:
            changes.append(f"the {' and '.join(fields)} of {_title(before)} changed")
    changes += [f"story {key} was added" for key in current.keys() - frozen.keys()]
    if not changes:
        return "the newsletter settings in the config changed"
    more = len(changes) - MAX_NAMED
    named = "; ".join(changes[:MAX_NAMED])
    return named + (f"; and {more} more change(s)" if more > 0 else "")


def _title(stored: StoredItem) -> str:
    title = stored.item.title
    return f"“{title[:77] + '...' if len(title) > 80 else title}”"


def sending_items(
    store: Store, config: Config, edition: Edition, now: datetime
) -> dict[str, StoredItem]:
    """The stories a send of `edition` is made from: those frozen with its approval.

    An edition whose send began before content was frozen is frozen now, if its
    stories still hash to the approval; otherwise nothing approved can be sent.
    """
    frozen = store.frozen_items(edition.key)
    if frozen is not None and frozen[0] == edition.approved_hash:
        return frozen[1]
    current = edition_items(store, edition)
    if edition.approved_hash and content_hash(edition, current, config) == edition.approved_hash:
        store.freeze_items(edition.key, edition.approved_hash, current, now)
        return current
    raise EditionError(
        f"edition {edition.key} has no frozen content matching its approval and its "
        f"stories changed since ({describe_changes(None, current)}); what was approved "
        "cannot be rebuilt: reject, reopen and approve it again"
    )
