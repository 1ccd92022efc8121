"""Config checks that span keys, run on the YAML as written, before validation.

What it does: finds a key written twice in one YAML mapping (PyYAML keeps the last
silently), and the problems that span several entries: duplicate feed names,
duplicate region names (case-insensitive) or slugs, a fallback section named like
a region, and a feed whose default region is not one. They read the raw data, so
they are reported in the same pass as the schema errors, even when some entries are
invalid: an entry whose own fields are wrong is checked for what it does say.
What it does not do: validate types or values (pydantic, `bot.config`), or format
problems with their lines (`bot.config` does, from the paths given here).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

Path = tuple[str | int, ...]


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-") or "section"


def duplicate_keys(node: yaml.Node, path: Path = ()) -> Iterator[tuple[Path, int, int]]:
    """(path, line, first line) for each key repeated in a mapping under `node`."""
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else str(key)
            line = key.start_mark.line + 1
            if name in first:
                yield (*path, name), line, first[name]
            else:
                first[name] = line
            yield from duplicate_keys(value, (*path, name))
    elif isinstance(node, yaml.SequenceNode):
        for i, value in enumerate(node.value):
            yield from duplicate_keys(value, (*path, i))


def _entries(data: Mapping[str, Any], key: str) -> list[tuple[int, Mapping[str, Any]]]:
    value = data.get(key)
    if not isinstance(value, list):
        return []
    return [(i, entry) for i, entry in enumerate(value) if isinstance(entry, Mapping)]


def _text(entry: Mapping[str, Any], key: str) -> str | None:
    value = entry.get(key)
    return value if isinstance(value, str) and value else None


def _dupes(where: str, values: list[tuple[int, str]], what: str) -> Iterator[tuple[Path, str]]:
    seen: set[str] = set()
    for i, value in values:
        if value in seen:
            yield (where, i), f"duplicate {what} {value!r}"
        seen.add(value)


def cross_problems(data: Mapping[str, Any], default_fallback: str) -> list[tuple[Path, str]]:
    """Problems that span several keys of the raw config: (path, message) pairs.

    `default_fallback` is the fallback section's name when the config gives none.
    """
    feeds, regions = _entries(data, "feeds"), _entries(data, "regions")
    names = [(i, name) for i, r in regions if (name := _text(r, "name"))]
    slugs = [
        (i, _text(r, "slug") or slugify(name)) for i, r in regions if (name := _text(r, "name"))
    ]
    problems = [
        *_dupes("feeds", [(i, n) for i, f in feeds if (n := _text(f, "name"))], "feed name"),
        *_dupes("regions", [(i, n.casefold()) for i, n in names], "region name"),
        *_dupes("regions", slugs, "region slug"),
    ]
    region_names = {name for _, name in names}
    fallback = data.get("fallback")
    fallback_name = _text(fallback, "name") if isinstance(fallback, Mapping) else None
    fallback_name = fallback_name or default_fallback
    if fallback_name.casefold() in {n.casefold() for n in region_names}:
        problems.append((("fallback", "name"), f"{fallback_name!r} is also a region"))
    for i, feed in feeds:
        region = feed.get("region")
        if isinstance(region, str) and region_names and region not in region_names:
            problems.append(
                (
                    ("feeds", i, "region"),
                    f"{region!r} is not a region (regions: {', '.join(sorted(region_names))})",
                )
            )
    return problems
