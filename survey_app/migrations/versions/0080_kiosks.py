"""kiosks: rating tablets enrolled at counters, and the kiosk of each kiosk response (#19)

Revision ID: 0080
Revises: 0050
Create Date: 2026-12-08 09:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0080'
down_revision = '0050'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'kiosks',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=16), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('office_id', sa.Integer(), nullable=False),
        sa.Column('counter_id', sa.Integer(), nullable=True),
        sa.Column('credential_hash', sa.String(length=64), nullable=True),
        sa.Column('pairing_hash', sa.String(length=64), nullable=True),
        sa.Column('pairing_expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(length=255), nullable=False),
        sa.Column('paired_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['counter_id'], ['counters.id'],
                                name=op.f('fk_kiosks_counter_id_counters')),
        sa.ForeignKeyConstraint(['office_id'], ['offices.id'],
                                name=op.f('fk_kiosks_office_id_offices')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_kiosks')),
        sa.UniqueConstraint('code', name=op.f('uq_kiosks_code')),
        sa.UniqueConstraint('credential_hash', name=op.f('uq_kiosks_credential_hash')),
        sa.UniqueConstraint('pairing_hash', name=op.f('uq_kiosks_pairing_hash')),
    )
    with op.batch_alter_table('kiosks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kiosks_office_id'), ['office_id'], unique=False)
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kiosk_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_responses_kiosk_id_kiosks'),
                                    'kiosks', ['kiosk_id'], ['id'])
        batch_op.create_index('ix_responses_kiosk_submitted', ['kiosk_id', 'submitted_at'],
                              unique=False,
                              postgresql_where=sa.text('kiosk_id IS NOT NULL'),
                              sqlite_where=sa.text('kiosk_id IS NOT NULL'))


def downgrade():
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.drop_index('ix_responses_kiosk_submitted',
                            postgresql_where=sa.text('kiosk_id IS NOT NULL'),
                            sqlite_where=sa.text('kiosk_id IS NOT NULL'))
        batch_op.drop_constraint(batch_op.f('fk_responses_kiosk_id_kiosks'), type_='foreignkey')
        batch_op.drop_column('kiosk_id')
    with op.batch_alter_table('kiosks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kiosks_office_id'))
    op.drop_table('kiosks')
