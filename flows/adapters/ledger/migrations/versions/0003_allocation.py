"""Officer overrides of allocations, device-use follow-up, and what was left at a child's turn.

Revision ID: 0003_allocation
Revises: 0002_source_snapshots
Create Date: 2022-03-01

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0003_allocation"
down_revision: Union[str, Sequence[str], None] = "0002_source_snapshots"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # what was left in the child's pools when the unit was chosen (kept with the allocation, for `explain`)
    op.add_column("allocations", sa.Column("left_when_turn", sa.String(200), nullable=False, server_default=""))
    op.create_table(
        "overrides",
        sa.Column("override_id", sa.String(40), primary_key=True),
        sa.Column("person_id", sa.String(32), nullable=False),
        sa.Column("need", sa.String(16), nullable=False, server_default=""),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("item", sa.String(32), nullable=False, server_default=""),
        sa.Column("donation_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("officer", sa.String(200), nullable=False, server_default=""),
        sa.Column("reason", sa.String(500), nullable=False, server_default=""),
        sa.Column("decided_on", sa.Date, nullable=True),
        sa.Column("source", sa.String(300), nullable=False, server_default=""),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("recorded_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_overrides_person", "overrides", ["person_id"])
    op.create_table(
        "follow_ups",
        sa.Column("follow_up_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("person_id", sa.String(32), nullable=False),
        sa.Column("need", sa.String(16), nullable=False),
        sa.Column("item", sa.String(32), nullable=False, server_default=""),
        sa.Column("serial", sa.String(100), nullable=False, server_default=""),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("checked_on", sa.Date, nullable=True),
        sa.Column("checked_by", sa.String(200), nullable=False, server_default=""),
        sa.Column("note", sa.String(500), nullable=False, server_default=""),
        sa.Column("source", sa.String(300), nullable=False, server_default=""),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("recorded_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("person_id", "need", "checked_on", name="uq_follow_ups_check"),
    )


def downgrade() -> None:
    op.drop_table("follow_ups")
    op.drop_index("ix_overrides_person", table_name="overrides")
    op.drop_table("overrides")
    with op.batch_alter_table("allocations") as batch:
        batch.drop_column("left_when_turn")
