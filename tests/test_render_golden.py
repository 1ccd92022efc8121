"""Golden files: the fixture edition rendered to HTML and text, byte for byte.

A change to the templates or the renderer shows here as a unified diff. When the
change is intended, regenerate with ``ROUNDUP_UPDATE_GOLDEN=1`` (``make golden``),
look at the diff in review, and commit the new files. Nothing in the render varies
between runs (no clock, no ids), so nothing is normalised.
"""

from __future__ import annotations

import difflib
import os
import warnings
from pathlib import Path

import pytest

from bot.render import Rendered, render_edition
from tests.render_editions import fixture_config, fixture_edition

GOLDEN = Path(__file__).resolve().parent / "golden"


def _rendered() -> Rendered:
    edition, items = fixture_edition()
    return render_edition(edition, items, fixture_config())


def _compare(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("ROUNDUP_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8", newline="")
        warnings.warn(f"rewrote golden file {path.name}; review its diff", stacklevel=2)
        return
    if not path.exists():
        pytest.fail(f"golden file {name} is missing: run with ROUNDUP_UPDATE_GOLDEN=1")
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        diff = difflib.unified_diff(
            expected.splitlines(keepends=True),
            actual.splitlines(keepends=True),
            fromfile=f"tests/golden/{name}",
            tofile="rendered now",
        )
        pytest.fail(
            f"{name} differs from the golden file (if intended: ROUNDUP_UPDATE_GOLDEN=1)\n"
            + "".join(diff),
            pytrace=False,
        )


def test_golden_html() -> None:
    _compare("roundup.html", _rendered().html)


def test_golden_text() -> None:
    _compare("roundup.txt", _rendered().text)


def test_golden_subject_and_preheader() -> None:
    rendered = _rendered()
    assert rendered.subject == "Weekly Round-Up: November 27, 2026"
    assert rendered.preheader == (
        "Saudi leans in hard to get UAE out of Sudan civil war · "
        "Idlib exposes limits of Russia and Turkey’s strategic partnership"
    )
    assert rendered.regions == ("Middle East", "Asia-Pacific", "Europe", "More from the site")
    assert rendered.story_count == 6
