"""The first schema: feeds, items, editions, edition entries, audit log, leases.

Revision ID: 0001_initial
Revises: (none)
Create Date: 2026-11-24

Later features (subscribers, the delivery ledger) come as new revisions on top of
this one; this script stays as it is.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001_initial"
down_revision: str | None = None
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
        "feeds",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("config_url", sa.Text(), nullable=False),
        sa.Column("etag", sa.Text()),
        sa.Column("last_modified", sa.Text()),
        sa.Column("body_hash", sa.Text()),
        sa.Column("last_attempt", _ts()),
        sa.Column("last_success", _ts()),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_due", _ts()),
        sa.Column("last_error", sa.Text()),
        sa.Column("title", sa.Text()),
        sa.Column("added_at", _ts()),
        sa.PrimaryKeyConstraint("name", name="pk_feeds"),
    )
    op.create_table(
        "items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("feed", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("canonical_url", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("lede", sa.Text(), nullable=False, server_default=""),
        sa.Column("content", sa.Text(), nullable=False, server_default=""),
        sa.Column("author", sa.Text()),
        sa.Column("published", _ts()),
        sa.Column("updated", _ts()),
        sa.Column("tags", _json(), nullable=False),
        sa.Column("image_url", sa.Text()),
        sa.Column("image_credit", sa.Text()),
        sa.Column("region", sa.Text(), nullable=False),
        sa.Column("candidates", _json(), nullable=False),
        sa.Column("rule", _json()),
        sa.Column("region_manual", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("first_seen", _ts(), nullable=False),
        sa.Column("last_seen", _ts(), nullable=False),
        sa.Column("sort_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_items"),
        sa.UniqueConstraint("key", name="uq_items_key"),
    )
    op.create_index("ix_items_canonical_url", "items", ["canonical_url"])
    op.create_index("ix_items_feed", "items", ["feed"])
    op.create_index("ix_items_sort_at", "items", ["sort_at", "id"])
    op.create_index("ix_items_region_sort_at", "items", ["region", "sort_at"])

    op.create_table(
        "editions",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("window_start", _ts(), nullable=False),
        sa.Column("window_end", _ts(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False, server_default=""),
        sa.Column("preheader", sa.Text(), nullable=False, server_default=""),
        sa.Column("intro", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", _ts()),
        sa.Column("updated_at", _ts()),
        sa.Column("approved_by", sa.Text()),
        sa.Column("approved_at", _ts()),
        sa.Column("approved_hash", sa.Text()),
        sa.Column("sent_at", _ts()),
        sa.PrimaryKeyConstraint("key", name="pk_editions"),
    )
    op.create_index("ix_editions_state", "editions", ["state"])

    op.create_table(
        "edition_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("edition_key", sa.Text(), nullable=False),
        sa.Column("item_key", sa.Text(), nullable=False),
        sa.Column("region", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("pinned", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("excluded", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("moved", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("headline", sa.Text()),
        sa.Column("lede", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_edition_entries"),
        sa.ForeignKeyConstraint(
            ["edition_key"],
            ["editions.key"],
            name="fk_edition_entries_edition_key_editions",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("edition_key", "item_key", name="uq_edition_entries_edition_key"),
    )
    op.create_index("ix_edition_entries_item_key", "edition_entries", ["item_key"])

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("edition_key", sa.Text(), nullable=False),
        sa.Column("at", _ts(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("detail", _json(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_edition_key", "audit_log", ["edition_key", "id"])

    op.create_table(
        "leases",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("holder", sa.Text(), nullable=False),
        sa.Column("acquired_at", _ts(), nullable=False),
        sa.Column("expires_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_leases"),
    )


def downgrade() -> None:
    for table in ("leases", "audit_log", "edition_entries", "editions", "items", "feeds"):
        op.drop_table(table)
