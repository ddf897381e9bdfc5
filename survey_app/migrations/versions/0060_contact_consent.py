"""contact_consent on dossiers: whether the citizen agreed to be contacted for feedback
(Law 91/2025/QH15); no consent, no invitation. Existing dossiers get false: no consent was
recorded for them.

Revision ID: 0060
Revises: 0085
Create Date: 2026-12-06 05:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0060'
down_revision = '0085'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('dossiers', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('contact_consent', sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade():
    with op.batch_alter_table('dossiers', schema=None) as batch_op:
        batch_op.drop_column('contact_consent')
