"""small frames kept in SQL with their manifest (issue 2)

Revision ID: 0006
Revises: 0005

``inline_frames`` holds encoded chunks of at most ``inline_frame_bytes``
under their content address, the same key ``tensor_chunks.blob_key`` names
(see ``swarmstore.meta.tables.InlineFrameRow``). Existing stores keep their
small frames as blob files; a chunk reads from this table only when its key
is here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inline_frames",
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("frame", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_inline_frames")),
    )


def downgrade() -> None:
    op.drop_table("inline_frames")
