"""Two editors saving the same edition at the same moment, on SQLite and PostgreSQL:
exactly one save wins and the other is refused with `StaleEditionError`, never a
silent overwrite (whichever way the two interleave)."""

from __future__ import annotations

import threading

from bot import edition as editions
from bot.clock import FixedClock
from bot.errors import StaleEditionError
from bot.store import open_store
from tests.desk_helpers import KEY, seed
from tests.render_editions import fixture_config


def test_simultaneous_saves_from_one_version_let_exactly_one_win(database_url: str) -> None:
    clock = FixedClock()
    seed(database_url, fixture_config(), clock)
    stores = [open_store(database_url) for _ in range(2)]
    version = stores[0].edition_version(KEY)
    assert version is not None
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def save(name: str, store_index: int) -> None:
        barrier.wait(timeout=30)
        try:
            editions.set_intro(
                stores[store_index],
                KEY,
                f"From {name}",
                actor=name,
                now=clock.now(),
                version=version,
            )
            outcomes[name] = "saved"
        except StaleEditionError:
            outcomes[name] = "refused"

    threads = [threading.Thread(target=save, args=(n, i)) for i, n in enumerate(("a", "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert sorted(outcomes.values()) == ["refused", "saved"]
        winner = next(n for n, o in outcomes.items() if o == "saved")
        final = stores[0].get_edition(KEY)
        assert final is not None and final.intro == f"From {winner}"
        assert final.version == version + 1
    finally:
        for s in stores:
            s.close()
