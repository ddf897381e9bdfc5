"""report_texts: the report API's texts of ended periods, stored under their tags so that every
process (and each one started later) answers a repeated request without computing it again;
on PostgreSQL the texts are stored uncompressed (JSON of tens of megabytes: compressing it costs
more time than it saves)

Revision ID: 0110
Revises: 0100
Create Date: 2026-12-06 14:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0110'
down_revision = '0100'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('report_texts',
    sa.Column('tag', sa.String(length=40), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('stored_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tag', name=op.f('pk_report_texts'))
    )
    op.create_index(op.f('ix_report_texts_stored_at'), 'report_texts', ['stored_at'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE report_texts ALTER COLUMN body SET STORAGE EXTERNAL')


def downgrade():
    op.drop_index(op.f('ix_report_texts_stored_at'), table_name='report_texts')
    op.drop_table('report_texts')
