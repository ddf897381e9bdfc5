"""partial index on answers with a comment (exports and the responses API read a period's
comments without scanning every answer)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 15:20:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.create_index('ix_answers_comments', ['response_id'], unique=False,
                              postgresql_where=sa.text('text IS NOT NULL'),
                              sqlite_where=sa.text('text IS NOT NULL'))


def downgrade():
    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.drop_index('ix_answers_comments', postgresql_where=sa.text('text IS NOT NULL'),
                            sqlite_where=sa.text('text IS NOT NULL'))
