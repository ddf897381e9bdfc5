"""answers are keyed by (response_id, question_id), without the 32-bit serial id (which would run
out after about 100M responses of 20 answers)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 18:05:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.drop_constraint('uq_answers_response_id_question_id', type_='unique')
        batch_op.drop_constraint('pk_answers', type_='primary')
        batch_op.drop_column('id')
        batch_op.create_primary_key('pk_answers', ['response_id', 'question_id'])


def downgrade():
    if op.get_context().dialect.name == 'postgresql':  # SERIAL numbers the existing rows
        op.execute('ALTER TABLE answers DROP CONSTRAINT pk_answers')
        op.execute('ALTER TABLE answers ADD COLUMN id SERIAL')
        op.execute('ALTER TABLE answers ADD CONSTRAINT pk_answers PRIMARY KEY (id)')
        op.create_unique_constraint('uq_answers_response_id_question_id', 'answers',
                                    ['response_id', 'question_id'])
        return
    # SQLite: the table is copied; an INTEGER primary key numbers the copied rows itself
    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.drop_constraint('pk_answers', type_='primary')
        batch_op.add_column(sa.Column('id', sa.Integer(), nullable=False))
        batch_op.create_primary_key('pk_answers', ['id'])
        batch_op.create_unique_constraint('uq_answers_response_id_question_id',
                                          ['response_id', 'question_id'])
