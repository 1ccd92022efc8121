"""The round-up's CSS against caniemail.com's support data.

Every CSS property, at-rule and selector in the rendered HTML (inline style
attributes and the <style> kept in <head>) must be supported in Gmail (desktop
webmail), Outlook (Windows) and Apple Mail (macOS), per the subset of caniemail's
data in ``tests/fixtures/render/caniemail-subset.json``. A partial result ("a")
passes only where the fixture justifies it for that client, an unsupported one
("n") only where the fixture names the fallback that covers that client. Rules
inside an @media block count only for the clients that read that block.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import tinycss2  # type: ignore[import-untyped]
from tinycss2.ast import (  # type: ignore[import-untyped]
    AtRule,
    Declaration,
    Node,
    QualifiedRule,
)

from bot.render import render_edition
from tests.render_editions import fixture_config, fixture_edition, full_edition

SUBSET = Path(__file__).resolve().parent / "fixtures" / "render" / "caniemail-subset.json"
CLIENTS = ("gmail", "outlook", "apple-mail")


@dataclass(frozen=True)
class Use:
    """One use of a CSS feature: which, where, and the @media features around it."""

    feature: str  # a caniemail slug, or "untracked:<property>"
    where: str  # "inline <td>", "head .card", ...
    context: tuple[str, ...] = ()  # caniemail slugs of the enclosing at-rules


class _Styles(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.inline: list[tuple[str, str]] = []  # (tag, style attribute)
        self.head: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        style = dict(attrs).get("style")
        if style:
            self.inline.append((tag, style))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.head.append(data)


def subset() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SUBSET.read_text(encoding="utf-8"))
    return data


def _declaration_feature(decl: Declaration, properties: dict[str, str | None]) -> str:
    name = decl.lower_name
    value = tinycss2.serialize(decl.value).strip().lower()
    if name == "display" and value == "none":
        return "css-display-none"
    if name not in properties:
        raise AssertionError(
            f"CSS property {name!r} is not in {SUBSET.name}: add its caniemail feature "
            "(or justify it under 'untracked')"
        )
    return properties[name] or f"untracked:{name}"


def _selector_features(prelude: list[Node]) -> set[str]:
    text = tinycss2.serialize(prelude).strip()
    found = set()
    for part in text.split(","):
        part = part.strip()
        if "," in text:
            found.add("css-selector-grouping")
        if " " in part:
            found.add("css-selector-descendant")
        if "." in part:
            found.add("css-selector-class")
        if re.match(r"^[a-z]", part):
            found.add("css-selector-type")
        if re.search(r"[#\[:>+~]", part):
            raise AssertionError(f"selector {part!r}: add its caniemail feature to the check")
    return found


def _media_features(rule: AtRule) -> tuple[str, ...]:
    if rule.lower_at_keyword != "media":
        raise AssertionError(f"@{rule.at_keyword}: add its caniemail feature to the check")
    prelude = tinycss2.serialize(rule.prelude).lower()
    if "prefers-color-scheme" in prelude:
        return ("css-at-media", "css-at-media-prefers-color-scheme")
    return ("css-at-media",)


def css_uses(html: str, properties: dict[str, str | None]) -> list[Use]:
    """Every CSS feature the HTML uses, with where and under which @media."""
    parser = _Styles()
    parser.feed(html)
    uses = []
    for tag, style in parser.inline:
        for decl in tinycss2.parse_blocks_contents(style, skip_whitespace=True):
            assert isinstance(decl, Declaration), f"unparsable inline style {style!r}"
            uses.append(Use(_declaration_feature(decl, properties), f"inline <{tag}>"))
            if decl.important:
                uses.append(Use("css-important", f"inline <{tag}>"))

    def walk(rules: list[Node], context: tuple[str, ...]) -> None:
        for rule in rules:
            if isinstance(rule, AtRule):
                features = _media_features(rule)
                uses.extend(
                    Use(f, f"head @media {tinycss2.serialize(rule.prelude).strip()}", context)
                    for f in features
                )
                walk(tinycss2.parse_rule_list(rule.content or [], True, True), context + features)
            elif isinstance(rule, QualifiedRule):
                where = f"head {tinycss2.serialize(rule.prelude).strip()}"
                uses.extend(Use(f, where, context) for f in _selector_features(rule.prelude))
                for decl in tinycss2.parse_blocks_contents(rule.content, skip_whitespace=True):
                    assert isinstance(decl, Declaration), f"unparsable rule in {where}"
                    uses.append(Use(_declaration_feature(decl, properties), where, context))
                    if decl.important:
                        uses.append(Use("css-important", where, context))
            else:
                raise AssertionError(f"unparsable CSS in <head>: {tinycss2.serialize([rule])}")

    for css in parser.head:
        walk(tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True), ())
    return uses


def _kind(result: str) -> str:
    return result.split()[0]  # "a #1 #2" -> "a"


def _applies(data: dict[str, Any], use: Use, client: str) -> bool:
    """A rule inside @media counts only for clients that read that @media."""
    return all(
        _kind(data["features"][f]["support"][client]["result"]) in ("y", "a") for f in use.context
    )


def problems(data: dict[str, Any], uses: list[Use]) -> tuple[list[str], set[tuple[str, str, str]]]:
    """(what is unsupported without a reason, the reasons the uses relied on)."""
    found: list[str] = []
    relied: set[tuple[str, str, str]] = set()
    for use in uses:
        if use.feature.startswith("untracked:"):
            name = use.feature.split(":", 1)[1]
            relied.add(("untracked", name, ""))
            continue
        feature = data["features"].get(use.feature)
        if feature is None:
            found.append(f"{use.feature} ({use.where}) is missing from {SUBSET.name}")
            continue
        for client in CLIENTS:
            if not _applies(data, use, client):
                continue
            result = feature["support"][client]["result"]
            kind = _kind(result)
            section = {"a": "justification", "n": "fallback", "u": "fallback"}.get(kind)
            if section is None:
                continue
            if client in feature.get(section, {}):
                relied.add((use.feature, section, client))
            else:
                found.append(
                    f"{use.feature} is {result!r} in {client} ({use.where}) and "
                    f"{SUBSET.name} gives no {section} for it"
                )
    return found, relied


def _rendered_htmls() -> list[str]:
    config = fixture_config()
    edition, items = fixture_edition()
    full, full_items = full_edition()
    return [
        render_edition(edition, items, config).html,
        render_edition(edition, items, config, test=True).html,
        render_edition(full, full_items, config).html,
    ]


def test_every_css_feature_is_supported_or_justified_in_the_three_clients() -> None:
    data = subset()
    found: list[str] = []
    for html in _rendered_htmls():
        found += problems(data, css_uses(html, data["properties"]))[0]
    assert not found, "\n".join(sorted(set(found)))


def test_every_justification_in_the_subset_is_still_needed() -> None:
    """A stale reason (feature no longer used, or no longer partial) must go."""
    data = subset()
    relied: set[tuple[str, str, str]] = set()
    used_features: set[str] = set()
    for html in _rendered_htmls():
        uses = css_uses(html, data["properties"])
        relied |= problems(data, uses)[1]
        used_features |= {u.feature for u in uses} | {f for u in uses for f in u.context}
    declared = {
        (slug, section, client)
        for slug, feature in data["features"].items()
        for section in ("justification", "fallback")
        for client in feature.get(section, {})
    } | {("untracked", name, "") for name in data["untracked"]}
    assert declared - relied == set()
    assert set(data["features"]) - used_features == set()


def test_important_is_only_in_head_lowercase_with_a_space_before() -> None:
    # The conditions of the "a" results of css-important (see the subset's notes).
    html = _rendered_htmls()[0]
    parser = _Styles()
    parser.feed(html)
    assert not any("important" in style.lower() for _, style in parser.inline)
    head = "".join(parser.head)
    assert "!important" in head
    assert re.search(r"\S!important|!IMPORTANT|! important", head) is None


def test_outlook_sensitive_properties_sit_on_elements_outlook_honours() -> None:
    # css-padding and css-border are partial in Outlook: table cells only.
    # css-width and css-height are partial on <img>: every image carries attributes.
    html = _rendered_htmls()[0]
    parser = _Styles()
    parser.feed(html)
    for tag, style in parser.inline:
        props = {p.split(":")[0].strip() for p in style.split(";") if ":" in p}
        if any(p.startswith(("padding", "border-top", "border-bottom")) for p in props):
            assert tag == "td", f"padding or border on <{tag}>: {style}"
    images = re.findall(r"<img\b[^>]*>", html)
    assert images
    for img in images:
        assert re.search(r'\bwidth="\d+"', img) and re.search(r'\bheight="\d+"', img), img
        assert re.search(r'\balt="[^"]+"', img), img


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<td style="padding:0 4px;color:#000">x</td>', {"css-padding", "untracked:color"}),
        ('<div style="display:none">x</div>', {"css-display-none"}),
        ('<div style="display:block">x</div>', {"css-display"}),
        (
            "<style>@media (prefers-color-scheme:dark){.a{color:#fff !important}}</style>",
            {
                "css-at-media",
                "css-at-media-prefers-color-scheme",
                "css-selector-class",
                "untracked:color",
                "css-important",
            },
        ),
    ],
)
def test_the_css_walker_finds_what_is_used(html: str, expected: set[str]) -> None:
    properties = subset()["properties"]
    assert {u.feature for u in css_uses(html, properties)} == expected


def test_an_unsupported_property_is_reported() -> None:
    data = subset()
    html = '<td style="border-radius:4px">x</td>'
    with pytest.raises(AssertionError, match="border-radius"):
        css_uses(html, data["properties"])
    # A property caniemail says Outlook lacks, with no fallback in the subset.
    features = dict(data["features"])
    features["css-border-radius"] = {
        "support": {
            "gmail": {"version": "2019-08", "result": "y"},
            "outlook": {"version": "2019", "result": "n #1"},
            "apple-mail": {"version": "10.3", "result": "y"},
        }
    }
    properties = dict(data["properties"], **{"border-radius": "css-border-radius"})
    faked = dict(data, features=features, properties=properties)
    found, _ = problems(faked, css_uses(html, properties))
    assert len(found) == 1 and "in outlook" in found[0]
