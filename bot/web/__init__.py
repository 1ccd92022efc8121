"""The web app (FastAPI, server-rendered Jinja2): public subscriber pages and the
SendGrid event webhook. `create_app(ctx_factory)` builds it; ``roundup serve``
runs it. Editor and ops pages are not part of it yet."""

from bot.web.app import create_app

__all__ = ["create_app"]
