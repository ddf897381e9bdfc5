"""SMS modes: each invitation records the mode its text was sent in (reply or link), and the
daily rollup counts invitations sent in link mode and those answered per mode

Revision ID: 0020
Revises: 0005
Create Date: 2026-12-06 09:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0020'
down_revision = '0005'
branch_labels = None
depends_on = None

ROLLUP_COLUMNS = ('link_sent', 'reply_answered', 'link_answered')


def upgrade():
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'mode',
            sa.Enum('reply', 'link', name='sms_mode', native_enum=False, create_constraint=True),
            nullable=True,
        ))
    # Every text sent before this revision asked for replies.
    op.execute("UPDATE invitations SET mode = 'reply' WHERE status <> 'queued'")
    with op.batch_alter_table('rollup_dossiers', schema=None) as batch_op:
        for name in ROLLUP_COLUMNS:
            batch_op.add_column(
                sa.Column(name, sa.Integer(), nullable=False, server_default=sa.text('0'))
            )
    # The rolled-up days lack the new counts: mark them all stale, so the next report rolls them.
    op.execute('DELETE FROM rollup_days')


def downgrade():
    with op.batch_alter_table('rollup_dossiers', schema=None) as batch_op:
        for name in reversed(ROLLUP_COLUMNS):
            batch_op.drop_column(name)
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_invitations_sms_mode'), type_='check')
        batch_op.drop_column('mode')
