"""The editors' and ops' pages under ``/desk``: every one needs a login (`bot.web.auth`).

- `home`: the dashboard (``/desk``), the stories list (``/desk/stories``), poll now.
- `editing`: the edition page (``/desk/editions/KEY``), its changes and previews.
- `sending`: the ops send page (``/desk/editions/KEY/send``).

The pages call `bot.edition`, `bot.pipeline` and `bot.overview`, never the store.
"""

from __future__ import annotations

from fastapi import APIRouter

from bot.web.desk import editing, home, sending

router = APIRouter()
router.include_router(home.router)
router.include_router(sending.router)  # before editing: /send is not an edition key
router.include_router(editing.router)

__all__ = ["router"]
