"""`lint_rules`: rules that can never match, and rules that another one shadows."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.classify import Classifier, lint_rules
from bot.config import Config
from bot.context import open_context
from bot.types import Item


def config(*regions: dict[str, Any]) -> Config:
    return Config.model_validate(
        {
            "newsletter": {
                "publication": "Test",
                "site_url": "https://example.org",
                "sender": {"email": "news@example.org"},
                "postal_address": "1 Example Road",
            },
            "feeds": [{"name": "site", "url": "https://example.org/feed"}],
            "regions": list(regions),
        }
    )


def one(*rules: dict[str, Any]) -> Config:
    return config({"name": "Middle East", "aliases": ["MENA"], "rules": list(rules)})


@pytest.mark.parametrize(
    ("rule", "warning"),
    [
        ({"tags": ["  "]}, 'tag "  " is empty after normalising; it can never match'),
        ({"tags": ["\u0301"]}, 'tag "\u0301" is empty after normalising; it can never match'),
        ({"keywords": ["!!!"]}, 'keyword "!!!" has no letter or digit; it can never match'),
        ({"keywords": ["-- / --"]}, 'keyword "-- / --" has no letter or digit; it can never match'),
        ({"keywords": ["*"]}, 'keyword "*" is empty after normalising; it can never match'),
        (
            {"urls": ["middle-east"]},
            'url "middle-east" is not a path (write a path fragment such as "/middle-east/");'
            " it can never match",
        ),
        (
            {"urls": ["https://example.org/middle-east/"]},
            'url "https://example.org/middle-east/" is not a path (write a path fragment such as'
            ' "/middle-east/"); it can never match',
        ),
        (
            {"urls": ["/*/"]},
            'url "/*/" has no path to look for (only "/" and "*"); it can never match',
        ),
        (
            {"urls": ["/world/*-*/"]},
            'url "/world/*-*/" has more than one "*" in a path segment; it can never match',
        ),
        (
            {"keywords": ["European Union"], "not": ["Union"]},
            'not "Union" always cancels its own rule; the rule can never match',
        ),
        (
            {"keywords": ["Gaza Strip", "Gaza City"], "not": ["Gaza"]},
            'not "Gaza" always cancels its own rule; the rule can never match',
        ),
        (
            {"keywords": ["Gaza", "Israel"], "not": ["gaza"]},
            'keyword "Gaza" is also in its own not list; it can never match',
        ),
        (
            {"keywords": ["Gaza Strip", "Israel"], "not": ["Gaza"]},
            'keyword "Gaza Strip" always contains not "Gaza"; it can never match',
        ),
        (
            {"tags": ["Israel", "Gaza"], "not": ["GAZA"]},
            'tag "Gaza" is also in its own not list; it can never match',
        ),
        (
            {"urls": ["/world/middle-east/", "/mideast/"], "not": ["/middle-east/"]},
            'url "/world/middle-east/" always contains not "/middle-east/"; it can never match',
        ),
        (
            {"keywords": ["Gaza"], "not": ["!!!"]},
            'not "!!!" has no letter or digit; it has no effect',
        ),
        (
            {"keywords": ["Gaza Strip*"], "not": ["Gaza"]},
            'not "Gaza" always cancels its own rule; the rule can never match',
        ),
    ],
)
def test_rules_that_can_never_match(rule: dict[str, Any], warning: str) -> None:
    assert lint_rules(one(rule)) == [f"regions[0].rules[0]: {warning}"]


@pytest.mark.parametrize(
    "rule",
    [
        {"keywords": ["European*"], "not": ["European Central Bank"]},
        {"keywords": ["Turkey"], "not": ["Thanksgiving"]},
        {"keywords": ["U.S.", "中国", "Kyiv", "São Paulo"]},
        {"urls": ["/world/*/europe/"], "not": ["/travel/"]},
        {"tags": ["Israel"], "not": ["Israel Folk Dance"]},
        {"keywords": ["Gaza*"], "not": ["Gaza"]},  # "Gazans" still counts
    ],
)
def test_rules_that_can_match_give_no_warning(rule: dict[str, Any]) -> None:
    assert lint_rules(one(rule)) == []


def test_a_pattern_lint_says_never_matches_really_never_matches() -> None:
    classifier = Classifier.from_config(
        one({"keywords": ["!!!", "Gaza Strip"], "not": ["Gaza"]}, {"urls": ["middle-east"]})
    )
    url = "https://example.org/middle-east/x"
    for title in ("!!!", "Gaza Strip", "Gaza"):
        c = classifier.classify(Item(key="k", feed="site", url=url, canonical_url=url, title=title))
        assert c.rule is None


ME = {
    "name": "Middle East",
    "aliases": ["MENA"],
    "rules": [{"tags": ["Israel"]}, {"tags": ["NATO"]}],
}
AP = {"name": "Asia-Pacific", "aliases": ["Indo-Pacific"], "rules": [{"keywords": ["Gaza"]}]}


@pytest.mark.parametrize(
    ("regions", "warnings"),
    [
        (
            [ME, AP, {"name": "Europe", "rules": [{"tags": ["nato"]}]}],
            ['regions[2].rules[0]: tag "nato" is shadowed by regions[0].rules[1]'],
        ),
        (
            [
                {"name": "A", "rules": [{"keywords": ["Kurds", "Erbil"]}]},
                {"name": "B", "rules": [{"keywords": ["KURDS"]}]},
            ],
            ['regions[1].rules[0]: keyword "KURDS" is shadowed by regions[0].rules[0]'],
        ),
        (
            [
                {"name": "A", "rules": [{"urls": ["/world/"]}]},
                {"name": "B", "rules": [{"urls": ["/World/"]}]},
            ],
            ['regions[1].rules[0]: url "/World/" is shadowed by regions[0].rules[0]'],
        ),
        (
            [ME, {"name": "Europe", "rules": [{"tags": ["Israel"]}, {"tags": ["MENA"]}]}],
            [
                'regions[1].rules[0]: tag "Israel" is shadowed by regions[0].rules[0]',
                'regions[1].rules[1]: tag "MENA" is shadowed by regions[0].aliases[0]'
                ' (an alias of "Middle East")',
            ],
        ),
        (
            [{"name": "A", "rules": [{"tags": ["Indo-Pacific", "Asia-Pacific"]}]}, AP],
            [
                'regions[1].name: the name "Asia-Pacific" (a tag out of the box) is shadowed'
                " by regions[0].rules[0]",
                'regions[1].aliases[0]: the alias "Indo-Pacific" of "Asia-Pacific" is shadowed'
                " by regions[0].rules[0]",
            ],
        ),
        (
            [ME, {"name": "B", "aliases": ["middle east"]}],
            [
                'regions[1].aliases[0]: the alias "middle east" of "B" is shadowed by'
                ' regions[0].name (the name of "Middle East")'
            ],
        ),
        (
            # an earlier field-narrow rule does not shadow a wider one, the reverse does
            [
                {"name": "A", "rules": [{"keywords": ["Xi"], "fields": ["title"]}]},
                {
                    "name": "B",
                    "rules": [{"keywords": ["Xi"]}, {"keywords": ["xi"], "fields": ["title"]}],
                },
            ],
            ['regions[1].rules[1]: keyword "xi" is shadowed by regions[0].rules[0]'],
        ),
        # contained as a whole word in an earlier keyword: fine
        ([{"name": "A", "rules": [{"keywords": ["Gaza Strip"]}]}, AP], []),
        # an earlier rule with `not` does not always win: no shadow
        ([{"name": "A", "rules": [{"keywords": ["Gaza"], "not": ["Strip"]}]}, AP], []),
        # a stem and a word are different patterns
        ([{"name": "A", "rules": [{"keywords": ["Gaza*"]}]}, AP], []),
        # tags and keywords are different kinds
        ([{"name": "A", "rules": [{"tags": ["Gaza"]}]}, AP], []),
    ],
)
def test_shadowed_rules(regions: list[dict[str, Any]], warnings: list[str]) -> None:
    assert lint_rules(config(*regions)) == warnings


def test_a_shadowed_rule_really_never_wins() -> None:
    classifier = Classifier.from_config(
        config(ME, AP, {"name": "Europe", "rules": [{"tags": ["NATO"]}]})
    )
    c = classifier.classify(
        Item(key="k", feed="site", url="", canonical_url="", title="", tags=("NATO",))
    )
    assert c.region == "Middle East"
    assert c.candidates == ("Europe",)


def test_a_context_logs_the_warnings_when_it_first_compiles_the_rules(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = one({"keywords": ["!!!"]})
    with (
        caplog.at_level(logging.WARNING, logger="bot.context"),
        open_context(config, database_url="sqlite://") as ctx,
    ):
        # Opening a context (every command does) neither compiles nor lints.
        assert ctx.warnings == [] and caplog.messages == []
        assert ctx.classifier is ctx.classifier  # compiled once...
    warning = 'config: regions[0].rules[0]: keyword "!!!" has no letter or digit'
    assert [m for m in caplog.messages if m.startswith(warning)] == [caplog.messages[0]]
    assert len(caplog.messages) == 1  # ...and linted once
