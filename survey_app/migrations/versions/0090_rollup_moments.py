"""rollup_moments: a year's respondents summed per key for the indices' variance, instead of
the year's answer patterns of keys with many of them (nearly one row per respondent with the
real questionnaire); the years already rolled up are marked stale so they are rolled again

Revision ID: 0090
Revises: 0060
Create Date: 2026-12-06 09:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0090'
down_revision = '0060'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('rollup_moments',
    sa.Column('grain', sa.SmallInteger(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.SmallInteger(), nullable=False),
    sa.Column('integrity', sa.SmallInteger(), nullable=False),
    sa.Column('probability', sa.Float(), nullable=False),
    sa.Column('questionnaire_id', sa.Integer(), nullable=False),
    sa.Column('items', sa.BigInteger(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('sums', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['office_id'], ['offices.id'], name=op.f('fk_rollup_moments_office_id_offices')),
    sa.ForeignKeyConstraint(['questionnaire_id'], ['questionnaires.id'], name=op.f('fk_rollup_moments_questionnaire_id_questionnaires')),
    sa.PrimaryKeyConstraint('grain', 'day', 'office_id', 'service_id', 'channel', 'integrity', 'probability', 'questionnaire_id', name=op.f('pk_rollup_moments'))
    )
    # Years rolled up before this table existed have patterns only: roll them again when next
    # read (or with `flask mscore rebuild-rollup`).
    op.execute('DELETE FROM rollup_patterns WHERE grain = 2')
    op.execute('DELETE FROM rollup_days WHERE grain = 2')


def downgrade():
    op.drop_table('rollup_moments')
    op.execute('DELETE FROM rollup_days WHERE grain = 2')
