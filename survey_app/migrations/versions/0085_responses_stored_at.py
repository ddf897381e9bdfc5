"""responses.stored_at: when a late response (a kiosk's offline rating) was stored

The responses API's settle time is measured from it; without it a kiosk rating made an hour ago
and stored now was served at once, and a cursor could pass a smaller id still being committed.
Nullable, no default: adding it rewrites nothing, and None means submitted_at.

Revision ID: 0085
Revises: 0080
Create Date: 2026-12-06 05:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0085'
down_revision = '0080'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('responses', sa.Column('stored_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('responses') as batch_op:
        batch_op.drop_column('stored_at')
