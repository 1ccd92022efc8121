"""A new draft tells the editors: one note per enabled user with an email address,
through the configured transport (the outbox here), with the edition page's link;
a refresh of the same draft tells nobody again."""

from __future__ import annotations

import mailbox
from pathlib import Path

from bot import accounts, pipeline
from bot.clock import FixedClock
from bot.context import open_context
from bot.send.outbox import TRANSACTIONAL
from bot.store import open_store
from bot.types import Role
from tests.desk_helpers import EDITOR2, KEY, PASSWORD, seed
from tests.render_editions import fixture_config


def test_a_new_draft_is_announced_to_the_editors_once(sqlite_url: str, tmp_path: Path) -> None:
    base = fixture_config()
    config = base.model_copy(
        update={"send": base.send.model_copy(update={"outbox_dir": str(tmp_path / "out")})}
    )
    clock = FixedClock()
    seed(sqlite_url, config, clock)
    with open_store(sqlite_url) as store:
        accounts.disable_user(store, EDITOR2, clock.now())
        accounts.add_user(store, "noemail", Role.EDITOR, PASSWORD, clock.now())
    with open_context(config, database_url=sqlite_url, clock=clock, migrate=False) as ctx:
        made = pipeline.draft(ctx, week="2026-W49")
        pipeline.draft(ctx, week="2026-W49")  # a refresh: nobody is told again
        pipeline.draft(ctx, week=KEY)  # the seeded draft, refreshed: nobody either
    box = mailbox.mbox(tmp_path / "out" / f"{TRANSACTIONAL}.mbox")
    try:
        notes = list(box)
    finally:
        box.close()
    assert sorted(str(m["To"]) for m in notes) == [
        "edna <edna@desk.example.org>",
        "olga <olga@desk.example.org>",
    ]
    body = notes[0].get_payload()[0].get_payload(decode=True).decode()
    assert f"{config.newsletter.base_url}/desk/editions/{made.key}" in body
    assert str(notes[0]["Subject"]) == f"Draft ready for review: Weekly Round-Up {made.key}"
