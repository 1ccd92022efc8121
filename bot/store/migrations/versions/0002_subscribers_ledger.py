"""Subscribers, the delivery ledger (batches and their recipients), webhook events.

Revision ID: 0002_subscribers_ledger
Revises: 0001_initial
Create Date: 2026-11-24
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_subscribers_ledger"
down_revision: str | None = "0001_initial"
branch_labels: str | None = None
depends_on: str | None = None


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def upgrade() -> None:
    op.create_table(
        "subscribers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("name", sa.Text()),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("regions", _json()),
        sa.Column("source", sa.Text()),
        sa.Column("signed_up_at", _ts(), nullable=False),
        sa.Column("confirmed_at", _ts()),
        sa.Column("status_changed_at", _ts()),
        sa.Column("status_reason", sa.Text()),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_subscribers"),
        sa.UniqueConstraint("email", name="uq_subscribers_email"),
    )
    op.create_index("ix_subscribers_status_id", "subscribers", ["status", "id"])

    op.create_table(
        "batches",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("edition_key", sa.Text(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("regions", _json(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("transport", sa.Text()),
        sa.Column("error", sa.Text()),
        sa.Column("message_id", sa.Text()),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.Column("accepted_at", _ts()),
        sa.PrimaryKeyConstraint("id", name="pk_batches"),
        sa.UniqueConstraint("edition_key", "seq", name="uq_batches_edition_key"),
    )
    op.create_index("ix_batches_edition_key_state", "batches", ["edition_key", "state"])

    op.create_table(
        "batch_recipients",
        sa.Column("edition_key", sa.Text(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("edition_key", "subscriber_id", name="pk_batch_recipients"),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["batches.id"],
            name="fk_batch_recipients_batch_id_batches",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_batch_recipients_batch_id", "batch_recipients", ["batch_id"])

    op.create_table(
        "webhook_events",
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("email", sa.Text()),
        sa.Column("batch_id", sa.Integer()),
        sa.Column("received_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_webhook_events"),
    )


def downgrade() -> None:
    for table in ("webhook_events", "batch_recipients", "batches", "subscribers"):
        op.drop_table(table)
