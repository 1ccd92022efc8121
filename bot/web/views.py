"""The public pages' templates: a Jinja2 environment over ``templates/web/`` and the
newsletter's brand as page context and as one stylesheet.

What it does: renders a page template with the newsletter's name, publication,
postal address, logo and brand colours (autoescape on for every template), and the
brand stylesheet served at ``/assets/site.css`` (so the CSP needs no inline style).
What it does not do: decide what a page says (the routes do) or read the store.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot.config import Config
from bot.errors import ConfigError
from bot.render.email import font_stack, palette, templates_dir
from bot.render.links import safe_url
from bot.render.text import plain


@lru_cache(maxsize=4)
def _environment(directory: Path) -> Environment:
    web = directory / "web"
    if not web.is_dir():
        raise ConfigError(f"no web templates in {web}; the templates folder must hold web/")
    return Environment(
        loader=FileSystemLoader(web),
        autoescape=True,  # every page; the stylesheet's only raw values are checked below
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def environment() -> Environment:
    return _environment(templates_dir())


def newsletter_context(config: Config) -> dict[str, Any]:
    """What the base layout shows: names, links, logo, address."""
    news = config.newsletter
    brand = news.brand
    logo_url = safe_url(brand.logo_url)
    return {
        "name": plain(news.name, 100),
        "publication": plain(news.publication, 100),
        "site_url": safe_url(news.site_url) or "/",
        "pitch": plain(news.pitch, 600),
        "address": plain(news.postal_address, 300),
        "logo": (
            {"url": logo_url, "width": brand.logo_width, "height": brand.logo_height}
            if logo_url
            else None
        ),
    }


def render_page(config: Config, template: str, **values: Any) -> str:
    page = environment().get_template(template)
    return page.render({"newsletter": newsletter_context(config), **values})


def render_stylesheet(config: Config) -> str:
    brand = config.newsletter.brand
    light, _dark = palette(brand)
    fonts = {"heading": font_stack(brand.heading_font), "body": font_stack(brand.body_font)}
    return environment().get_template("site.css").render(c=light, f=fonts)
