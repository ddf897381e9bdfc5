"""the citizen's side (#16 §2-3, #19): the sms_link channel, unverified dossier claims beside
verified bindings, the address hash for bursts per address, counters' English names, and each
office's hotline and complaint route for the thank-you page

Revision ID: 0010
Revises: 0030
Create Date: 2026-12-04 02:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0030'
branch_labels = None
depends_on = None

OLD_CHANNELS = ('qr_web', 'sms', 'kiosk')
NEW_CHANNELS = ('qr_web', 'sms', 'kiosk', 'sms_link')


def _channel(values):
    return sa.Enum(*values, name='channel', native_enum=False, create_constraint=True,
                   length=max(map(len, values)))


def _set_channels(old, new):
    if op.get_context().dialect.name == 'postgresql':
        op.drop_constraint(op.f('ck_responses_channel'), 'responses', type_='check')
        op.alter_column('responses', 'channel', type_=sa.String(max(map(len, new))),
                        existing_type=sa.String(max(map(len, old))), existing_nullable=False)
        listed = ', '.join(f"'{v}'" for v in new)
        op.create_check_constraint(op.f('ck_responses_channel'), 'responses',
                                   f'channel IN ({listed})')
        return
    with op.batch_alter_table('responses', recreate='always') as batch_op:
        batch_op.alter_column('channel', type_=_channel(new), existing_type=_channel(old),
                              existing_nullable=False)


def upgrade():
    _set_channels(OLD_CHANNELS, NEW_CHANNELS)
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_dossier_code', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('claimed_dossier_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('address_hash', sa.String(length=64), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_responses_claimed_dossier_id_dossiers'),
                                    'dossiers', ['claimed_dossier_id'], ['id'],
                                    ondelete='SET NULL')
        batch_op.create_index(batch_op.f('ix_responses_claimed_dossier_id'),
                              ['claimed_dossier_id'], unique=False)
        batch_op.create_index('ix_responses_address_office_submitted',
                              ['address_hash', 'office_id', 'submitted_at'], unique=False)
    with op.batch_alter_table('counters', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_en', sa.String(length=255), nullable=True))
    with op.batch_alter_table('offices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hotline', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('complaint_route', sa.String(length=500), nullable=True))


def downgrade():
    with op.batch_alter_table('offices', schema=None) as batch_op:
        batch_op.drop_column('complaint_route')
        batch_op.drop_column('hotline')
    with op.batch_alter_table('counters', schema=None) as batch_op:
        batch_op.drop_column('name_en')
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.drop_index('ix_responses_address_office_submitted')
        batch_op.drop_index(batch_op.f('ix_responses_claimed_dossier_id'))
        batch_op.drop_constraint(batch_op.f('fk_responses_claimed_dossier_id_dossiers'),
                                 type_='foreignkey')
        batch_op.drop_column('address_hash')
        batch_op.drop_column('claimed_dossier_id')
        batch_op.drop_column('claimed_dossier_code')
    # responses of the new channel have no place in the old schema
    op.execute("DELETE FROM answers WHERE response_id IN "
               "(SELECT id FROM responses WHERE channel = 'sms_link')")
    op.execute("UPDATE conversations SET response_id = NULL WHERE response_id IN "
               "(SELECT id FROM responses WHERE channel = 'sms_link')")
    op.execute("DELETE FROM responses WHERE channel = 'sms_link'")
    _set_channels(NEW_CHANNELS, OLD_CHANNELS)
