"""rollup_patterns: respondents per answered/satisfied pattern of the SIPAS element items, for the
indices' variance; the existing rollup days are marked stale so they are rolled again with it

Revision ID: 0050
Revises: 0010
Create Date: 2026-12-06 09:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0050'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('rollup_patterns',
    sa.Column('grain', sa.SmallInteger(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.SmallInteger(), nullable=False),
    sa.Column('integrity', sa.SmallInteger(), nullable=False),
    sa.Column('probability', sa.Float(), nullable=False),
    sa.Column('questionnaire_id', sa.Integer(), nullable=False),
    sa.Column('answered', sa.BigInteger(), nullable=False),
    sa.Column('satisfied', sa.BigInteger(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['office_id'], ['offices.id'], name=op.f('fk_rollup_patterns_office_id_offices')),
    sa.ForeignKeyConstraint(['questionnaire_id'], ['questionnaires.id'], name=op.f('fk_rollup_patterns_questionnaire_id_questionnaires')),
    sa.PrimaryKeyConstraint('grain', 'day', 'office_id', 'service_id', 'channel', 'integrity', 'probability', 'questionnaire_id', 'answered', 'satisfied', name=op.f('pk_rollup_patterns'))
    )
    # Days rolled up before this table existed have no patterns: roll them again when next read
    # (or at once with `flask mscore rebuild-rollup`).
    op.execute('DELETE FROM rollup_days')


def downgrade():
    op.drop_table('rollup_patterns')
