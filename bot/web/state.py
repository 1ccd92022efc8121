"""What the web app holds while it runs: the context, the secret, the webhook verifier.

What it does: keeps the one `Context` the app's `ctx_factory` made (opened at
start-up, closed at shut-down), the token secret, the SendGrid webhook verifier
(None when no key is configured), and the rendered brand stylesheet; and finds
them from a request.
What it does not do: create any of them (`bot.web.app.create_app` does).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from starlette.requests import Request

from bot.context import Context
from bot.send.webhook import Verifier


@dataclass
class AppState:
    ctx: Context
    secret: str
    verifier: Verifier | None
    stylesheet: str
    secure_cookies: bool  # the app is reached over https: cookies only go back over it

    def now(self) -> datetime:
        return self.ctx.clock.now()


def state_of(request: Request) -> AppState:
    state: AppState = request.app.state.roundup
    return state
