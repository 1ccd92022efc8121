"""What the web app holds while it runs: the context, the secret, the webhook verifier.

What it does: keeps the one `Context` the app's `ctx_factory` made (opened at
start-up, closed at shut-down), the token secret, the SendGrid webhook verifier
(None when no key is configured), the rendered brand stylesheet, the background
sender of confirmation mails and the sign-up limits; and finds them from a request.
What it does not do: create any of them (`bot.web.app.create_app` does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from starlette.requests import Request

from bot.context import Context
from bot.send.webhook import Verifier
from bot.web.confirm_sender import ConfirmationSender
from bot.web.signup_limit import SignupLimits


@dataclass
class AppState:
    ctx: Context
    secret: str
    verifier: Verifier | None
    stylesheet: str
    secure_cookies: bool  # the app is reached over https: cookies only go back over it
    sender: ConfirmationSender | None = None  # sends queued confirmation mails
    signup_limits: SignupLimits = field(default_factory=SignupLimits.default)

    def now(self) -> datetime:
        return self.ctx.clock.now()


def state_of(request: Request) -> AppState:
    state: AppState = request.app.state.roundup
    return state
