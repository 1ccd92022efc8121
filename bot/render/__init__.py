"""Rendering the round-up email: one render per edition and region set.

- `model`: the sections and stories an edition shows, made safe; `content_hash`.
- `email`: Jinja2 templates to HTML (CSS inlined) and plain text: `render_edition`.
- `links`: http(s)-only links and their UTM parameters.
- `text`: bounded plain text, the Markdown intro, wrapping at 72 columns.
- `tokens`: per-recipient substitution tokens, filled at send time.

It neither chooses stories (`bot.edition`) nor sends (`bot.send`).
"""

from __future__ import annotations

from bot.render.email import Rendered, render_edition, templates_dir
from bot.render.links import add_utm, edition_url, safe_url
from bot.render.model import Section, Story, content_hash, edition_sections
from bot.render.tokens import SUBSTITUTIONS, fill, neutralise, token

__all__ = [
    "SUBSTITUTIONS",
    "Rendered",
    "Section",
    "Story",
    "add_utm",
    "content_hash",
    "edition_sections",
    "edition_url",
    "fill",
    "neutralise",
    "render_edition",
    "safe_url",
    "templates_dir",
    "token",
]
