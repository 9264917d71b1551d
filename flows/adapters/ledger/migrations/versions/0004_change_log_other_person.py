"""The change log names both children of a merge: ``other_person_id`` beside ``person_id``.

Revision ID: 0004_change_log_other_person
Revises: 0003_allocation
Create Date: 2022-03-20

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0004_change_log_other_person"
down_revision: Union[str, Sequence[str], None] = "0003_allocation"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column("change_log", sa.Column("other_person_id", sa.String(32), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("change_log") as batch:
        batch.drop_column("other_person_id")
