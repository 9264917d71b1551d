"""Source snapshots: raw grids of each fetched Google spreadsheet version, which version each run read, and
the hash of the feedback last written into each school's spreadsheet.

Revision ID: 0002_source_snapshots
Revises: 0001
Create Date: 2026-11-27

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0002_source_snapshots"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "source_snapshots",
        sa.Column("snapshot_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source_id", sa.String(200), nullable=False),
        sa.Column("title", sa.String(500), nullable=False, server_default=""),
        sa.Column("modified_time", sa.String(40), nullable=False, server_default=""),
        sa.Column("fetched_at", sa.DateTime, nullable=False),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("grids", sa.LargeBinary, nullable=False),
        sa.UniqueConstraint("source_id", "modified_time", name="uq_source_snapshots_version"),
    )
    op.create_table(
        "run_sources",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("source_id", sa.String(200), primary_key=True),
        sa.Column("snapshot_id", sa.Integer, sa.ForeignKey("source_snapshots.snapshot_id"), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=False, server_default=""),
    )
    op.create_table(
        "sheet_feedback",
        sa.Column("source_id", sa.String(200), primary_key=True),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("written_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sheet_feedback")
    op.drop_table("run_sources")
    op.drop_table("source_snapshots")
