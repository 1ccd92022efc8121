"""One mailbox, one subscriber: an identity key, a public id, a confirmation queue.

Adds to `subscribers`:
- `email_key`, the identity of the mailbox (local part case-folded, domain
  lower-cased), unique in place of `email`, which keeps the spelling mail goes to;
- `public_id`, 128 random bits, what link tokens name instead of the row id;
- `confirm_due_at` and `confirm_attempts`, the queue of confirmation mails a
  background sender works through, and `last_signup_at`.

Rows that are one mailbox spelled differently are merged into the oldest row. The
most protective status wins (complained > unsubscribed > bounced > active >
pending), with its time and reason; the earliest sign-up and confirmation are
kept. Ledger rows of the merged-away rows stay as history.

The key function here is a frozen copy of `bot.store.subscribers.email_key` as it
was when this migration was written: stored emails were already normalised (domain
lower-cased, in its ASCII form), so the copy needs no IDNA.

Revision ID: 0005_subscriber_identity
Revises: 0002_subscribers_ledger
Create Date: 2026-11-30
"""

from __future__ import annotations

import secrets
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0005_subscriber_identity"
down_revision: str | None = "0004_send_integrity"
branch_labels: str | None = None
depends_on: str | None = None

# Most protective first.
_RANK = ("complained", "unsubscribed", "bounced", "active", "pending")


def _key(email: str) -> str:
    local, _, domain = email.strip().rpartition("@")
    return f"{local.casefold()}@{domain.lower().rstrip('.')}"


def _rank(status: str) -> int:
    return _RANK.index(status) if status in _RANK else len(_RANK)


_subscribers = sa.table(
    "subscribers",
    sa.column("id", sa.Integer),
    sa.column("email", sa.Text),
    sa.column("name", sa.Text),
    sa.column("status", sa.Text),
    sa.column("signed_up_at", sa.DateTime(timezone=True)),
    sa.column("confirmed_at", sa.DateTime(timezone=True)),
    sa.column("status_changed_at", sa.DateTime(timezone=True)),
    sa.column("status_reason", sa.Text),
    sa.column("email_key", sa.Text),
    sa.column("public_id", sa.Text),
)


def upgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.add_column(sa.Column("email_key", sa.Text()))
        batch.add_column(sa.Column("public_id", sa.Text()))
        batch.add_column(sa.Column("last_signup_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("confirm_due_at", sa.DateTime(timezone=True)))
        batch.add_column(
            sa.Column("confirm_attempts", sa.Integer(), nullable=False, server_default="0")
        )
    _fill_and_merge(op.get_bind())
    with op.batch_alter_table("subscribers") as batch:
        batch.alter_column("email_key", existing_type=sa.Text(), nullable=False)
        batch.alter_column("public_id", existing_type=sa.Text(), nullable=False)
        batch.drop_constraint("uq_subscribers_email", type_="unique")
        batch.create_unique_constraint("uq_subscribers_email_key", ["email_key"])
        batch.create_unique_constraint("uq_subscribers_public_id", ["public_id"])
    op.create_index("ix_subscribers_confirm_due_at", "subscribers", ["confirm_due_at"])


def _fill_and_merge(conn: sa.Connection) -> None:
    t = _subscribers
    rows = conn.execute(sa.select(t).order_by(t.c.id)).mappings().all()
    groups: dict[str, list[Any]] = {}
    for row in rows:
        groups.setdefault(_key(row["email"]), []).append(row)
    for key, group in groups.items():
        keep = group[0]  # the oldest row: its id is what the ledger knows best
        values: dict[str, Any] = {"email_key": key, "public_id": secrets.token_urlsafe(16)}
        if len(group) > 1:
            values.update(_merged(group))
            conn.execute(t.delete().where(t.c.id.in_([r["id"] for r in group[1:]])))
        conn.execute(t.update().where(t.c.id == keep["id"]).values(**values))


def _merged(group: list[Any]) -> dict[str, Any]:
    """The merged row's values: the most protective status, the earliest dates."""
    winner = min(group, key=lambda r: (_rank(r["status"]), r["id"]))
    confirmed = [r["confirmed_at"] for r in group if r["confirmed_at"] is not None]
    names = [r["name"] for r in group if r["name"]]
    return {
        "status": winner["status"],
        "status_changed_at": winner["status_changed_at"],
        "status_reason": winner["status_reason"] or "merged case variants of one address",
        "signed_up_at": min(r["signed_up_at"] for r in group),
        "confirmed_at": min(confirmed) if confirmed else None,
        "name": names[0] if names else None,
    }


def downgrade() -> None:
    op.drop_index("ix_subscribers_confirm_due_at", table_name="subscribers")
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_constraint("uq_subscribers_public_id", type_="unique")
        batch.drop_constraint("uq_subscribers_email_key", type_="unique")
        batch.create_unique_constraint("uq_subscribers_email", ["email"])
        for column in (
            "confirm_attempts",
            "confirm_due_at",
            "last_signup_at",
            "public_id",
            "email_key",
        ):
            batch.drop_column(column)
