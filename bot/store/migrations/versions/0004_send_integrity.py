"""Send integrity: the frozen content of an approved edition, its renders, the plan's transport.

Revision ID: 0004_send_integrity
Revises: 0002_subscribers_ledger
Create Date: 2026-11-30
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_send_integrity"
down_revision: str | None = "0002_subscribers_ledger"
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
        "edition_frozen",
        sa.Column("edition_key", sa.Text(), nullable=False),
        sa.Column("approved_hash", sa.Text(), nullable=False),
        sa.Column("items", _json(), nullable=False),
        sa.Column("frozen_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("edition_key"),
    )
    op.create_table(
        "edition_renders",
        sa.Column("edition_key", sa.Text(), nullable=False),
        sa.Column("regions", sa.Text(), nullable=False),
        sa.Column("approved_hash", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("preheader", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sections", _json(), nullable=False),
        sa.Column("story_count", sa.Integer(), nullable=False),
        sa.Column("rendered_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("edition_key", "regions"),
    )
    op.create_table(
        "send_plans",
        sa.Column("edition_key", sa.Text(), nullable=False),
        sa.Column("transport", sa.Text(), nullable=False),
        sa.Column("planned_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("edition_key"),
    )


def downgrade() -> None:
    for table in ("send_plans", "edition_renders", "edition_frozen"):
        op.drop_table(table)
