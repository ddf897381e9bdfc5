"""audit events; the phone hashes of invitations and conversations may be emptied (purge and
subject-request erasure)

Revision ID: 0030
Revises: 0020
Create Date: 2026-12-06 10:00:00

"""
from alembic import op
import sqlalchemy as sa



revision = '0030'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'audit_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('actor', sa.String(length=255), nullable=False),
        sa.Column('action', sa.String(length=64), nullable=False),
        sa.Column('target_type', sa.String(length=64), nullable=False),
        sa.Column('target_id', sa.String(length=64), nullable=True),
        sa.Column('before', sa.JSON(), nullable=True),
        sa.Column('after', sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events')),
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_action'), ['action'], unique=False)
    for table in ('invitations', 'conversations'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('phone_hash', existing_type=sa.String(length=64), nullable=True)


def downgrade():
    for table in ('invitations', 'conversations'):
        op.execute(f"UPDATE {table} SET phone_hash = '' WHERE phone_hash IS NULL")
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('phone_hash', existing_type=sa.String(length=64), nullable=False)
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_events_action'))
        batch_op.drop_index(batch_op.f('ix_audit_events_at'))
    op.drop_table('audit_events')
