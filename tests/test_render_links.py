"""Links in the round-up: UTM parameters, which URLs may be linked, browser link."""

from __future__ import annotations

import pytest

from bot.config import Utm
from bot.render import add_utm, edition_url, safe_url
from tests.render_editions import fixture_config

UTM = Utm(source="newsletter", medium="email", campaign="weekly-roundup-{edition}")
TAIL = "utm_source=newsletter&utm_medium=email&utm_campaign=weekly-roundup-2026-W48"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://rs.org/story/", f"https://rs.org/story/?{TAIL}"),
        ("https://rs.org/story", f"https://rs.org/story?{TAIL}"),
        ("https://rs.org", f"https://rs.org?{TAIL}"),
        ("https://rs.org/?p=123", f"https://rs.org/?p=123&{TAIL}"),
        ("https://rs.org/s/?a=1&b=2#comments", f"https://rs.org/s/?a=1&b=2&{TAIL}#comments"),
        ("https://rs.org/s/#top", f"https://rs.org/s/?{TAIL}#top"),
        ("https://rs.org/s/?", f"https://rs.org/s/?{TAIL}"),
        ("https://rs.org/s/?a=1&", f"https://rs.org/s/?a=1&{TAIL}"),
        # an existing query keeps its own encoding, byte for byte
        (
            "https://rs.org/s/?q=a%2Fb+c&x=%E2%9C%93",
            f"https://rs.org/s/?q=a%2Fb+c&x=%E2%9C%93&{TAIL}",
        ),
        # utm_* already there are not overridden; the missing ones are added
        (
            "https://rs.org/s/?utm_source=partner",
            "https://rs.org/s/?utm_source=partner&utm_medium=email"
            "&utm_campaign=weekly-roundup-2026-W48",
        ),
        (
            "https://rs.org/s/?UTM_MEDIUM=social&utm_campaign=spring",
            "https://rs.org/s/?UTM_MEDIUM=social&utm_campaign=spring&utm_source=newsletter",
        ),
        (
            "https://rs.org/s/?utm_source=a&utm_medium=b&utm_campaign=c",
            "https://rs.org/s/?utm_source=a&utm_medium=b&utm_campaign=c",
        ),
        ("HTTP://RS.ORG/S", f"HTTP://RS.ORG/S?{TAIL}"),
        # not http(s): unchanged
        ("mailto:editors@rs.org", "mailto:editors@rs.org"),
        ("javascript:alert(1)", "javascript:alert(1)"),
        ("/relative/path", "/relative/path"),
    ],
)
def test_add_utm(url: str, expected: str) -> None:
    assert add_utm(url, UTM, "2026-W48") == expected


@pytest.mark.parametrize(
    ("utm", "expected"),
    [
        (Utm(), f"https://rs.org/?{TAIL}"),
        (
            Utm(source="news letter", medium="e&mail", campaign="{edition}/w"),
            "https://rs.org/?utm_source=news%20letter&utm_medium=e%26mail"
            "&utm_campaign=2026-W48%2Fw",
        ),
        (Utm(source="", medium="", campaign=""), "https://rs.org/"),
        (
            Utm(campaign="fixed"),
            "https://rs.org/?utm_source=newsletter&utm_medium=email&utm_campaign=fixed",
        ),
    ],
)
def test_add_utm_values_are_encoded_and_empty_ones_left_out(utm: Utm, expected: str) -> None:
    assert add_utm("https://rs.org/", utm, "2026-W48") == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://rs.org/a", "https://rs.org/a"),
        ("http://rs.org/a?b=1#c", "http://rs.org/a?b=1#c"),
        ("  https://rs.org/a  ", "https://rs.org/a"),
        ("javascript:alert(1)", None),
        ("JaVaScRiPt:alert(1)", None),
        (" javascript:alert(1)", None),
        ("java\tscript:alert(1)", None),
        ("data:text/html,<script>alert(1)</script>", None),
        ("vbscript:msgbox", None),
        ("//rs.org/a", None),
        ("/a", None),
        ("https://", None),
        ("https://rs.org/a b", None),
        ('https://rs.org/"onmouseover="alert(1)', None),
        ("https://rs.org/<script>", None),
        ("https://[::1/", None),
        ("https://rs.org/" + "a" * 3000, None),
        ("", None),
        (None, None),
    ],
)
def test_safe_url(url: str | None, expected: str | None) -> None:
    assert safe_url(url) == expected


def test_edition_url_uses_base_url_else_site_url() -> None:
    newsletter = fixture_config().newsletter
    assert edition_url(newsletter, "2026-W48") == (
        "https://newsletter.responsiblestatecraft.org/editions/2026-W48"
    )
    bare = newsletter.model_copy(update={"base_url": None})
    assert edition_url(bare, "2026-W48") == "https://responsiblestatecraft.org"
