"""responses and answers partitioned by month of submitted_at (PostgreSQL); response_keys keeps
submission tokens and dossiers unique across the partitions (both databases) (#21)

PostgreSQL: in this migration's one transaction, the old tables step aside (renamed, their keys
and indexes dropped so that the names can be reused), partitioned tables are created beside them
(LIKE the old ones: the same columns, defaults and CHECK constraints, the `responses_id_seq`
sequence), with one partition per local month (the configured TIMEZONE, as the reports count
months) from the first month holding a response to three months ahead, and a DEFAULT partition
each; the rows are copied (answers take their response's submitted_at), then the keys, indexes
and foreign keys are created, `conversations` and `response_keys` refer to (id, submitted_at),
and the old tables are dropped. It holds an exclusive lock on both tables throughout: at 2 G
answers it takes hours and belongs in a maintenance window (docs/operations.md, "Partitions").

A partitioned table's primary key and unique constraints must include the partition key, so:
responses' key is (id, submitted_at); answers' is (response_id, submitted_at, question_id) with
the foreign key (response_id, submitted_at); conversations gain response_submitted_at for theirs;
submission_token and dossier_id are unique in the small unpartitioned table response_keys, written
by a trigger on responses in the statement that inserts the response (any writer), and deleted
with it.

SQLite (development): no partitions; the same columns, foreign keys, response_keys and triggers,
and a unique index on responses (id, submitted_at) for the composite foreign keys to refer to.
Beware: a later batch_alter_table on responses recreates the table on SQLite and drops its
triggers; create them again after it (_sqlite_triggers).

Revision ID: 0100
Revises: 0090
Create Date: 2026-12-06 11:30:00

"""
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from alembic import op
from flask import current_app
import sqlalchemy as sa


revision = '0100'
down_revision = '0090'
branch_labels = None
depends_on = None

MONTHS_AHEAD = 3

RESPONSE_INDEXES = (
    'CREATE INDEX ix_responses_office_submitted ON responses (office_id, submitted_at)',
    'CREATE INDEX ix_responses_client_office_submitted ON responses '
    '(client_hash, office_id, submitted_at)',
    'CREATE INDEX ix_responses_address_office_submitted ON responses '
    '(address_hash, office_id, submitted_at)',
    'CREATE INDEX ix_responses_kiosk_submitted ON responses (kiosk_id, submitted_at) '
    'WHERE kiosk_id IS NOT NULL',
    'CREATE INDEX ix_responses_claimed_dossier_id ON responses (claimed_dossier_id)',
    'CREATE INDEX ix_responses_submitted_at ON responses (submitted_at)',
)
ANSWER_INDEXES = (
    'CREATE INDEX ix_answers_question_id ON answers (question_id)',
    'CREATE INDEX ix_answers_comments ON answers (response_id) WHERE text IS NOT NULL',
)
RESPONSE_FKS = (
    ('claimed_dossier_id', 'dossiers', ' ON DELETE SET NULL'),
    ('counter_id', 'counters', ''),
    ('dossier_id', 'dossiers', ''),
    ('kiosk_id', 'kiosks', ''),
    ('office_id', 'offices', ''),
    ('questionnaire_id', 'questionnaires', ''),
    ('service_id', 'services', ''),
)
# The function below is PostgreSQL's; SQLite's triggers say the same in its dialect.
KEYS_FUNCTION = """
CREATE FUNCTION response_keys_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM response_keys WHERE response_id = OLD.id;
    END IF;
    IF NEW.submission_token IS NOT NULL OR NEW.dossier_id IS NOT NULL THEN
        INSERT INTO response_keys (response_id, submitted_at, submission_token, dossier_id)
        VALUES (NEW.id, NEW.submitted_at, NEW.submission_token, NEW.dossier_id);
    END IF;
    RETURN NULL;
END
$$
"""
PG_TRIGGERS = (
    'CREATE TRIGGER response_keys_insert AFTER INSERT ON responses FOR EACH ROW '
    'WHEN (NEW.submission_token IS NOT NULL OR NEW.dossier_id IS NOT NULL) '
    'EXECUTE FUNCTION response_keys_write()',
    'CREATE TRIGGER response_keys_update AFTER UPDATE OF submission_token, dossier_id '
    'ON responses FOR EACH ROW EXECUTE FUNCTION response_keys_write()',
)
SQLITE_TRIGGERS = (
    """CREATE TRIGGER response_keys_insert AFTER INSERT ON responses
    WHEN NEW.submission_token IS NOT NULL OR NEW.dossier_id IS NOT NULL
    BEGIN
        INSERT INTO response_keys (response_id, submitted_at, submission_token, dossier_id)
        VALUES (NEW.id, NEW.submitted_at, NEW.submission_token, NEW.dossier_id);
    END""",
    """CREATE TRIGGER response_keys_update AFTER UPDATE OF submission_token, dossier_id
    ON responses
    BEGIN
        DELETE FROM response_keys WHERE response_id = OLD.id;
        INSERT INTO response_keys (response_id, submitted_at, submission_token, dossier_id)
        SELECT NEW.id, NEW.submitted_at, NEW.submission_token, NEW.dossier_id
        WHERE NEW.submission_token IS NOT NULL OR NEW.dossier_id IS NOT NULL;
    END""",
)
COPY_KEYS = (
    'INSERT INTO response_keys (response_id, submitted_at, submission_token, dossier_id) '
    'SELECT id, submitted_at, submission_token, dossier_id FROM responses '
    'WHERE submission_token IS NOT NULL OR dossier_id IS NOT NULL'
)


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        _rebuild(partitioned=True)
    else:
        _sqlite_upgrade()


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        _rebuild(partitioned=False)
    else:
        _sqlite_downgrade()


# --- PostgreSQL ---------------------------------------------------------------------------------
def _local_months(first_moment):
    """The first days of the local months from first_moment's to MONTHS_AHEAD after today's."""
    zone = ZoneInfo(current_app.config.get('TIMEZONE', 'Asia/Ho_Chi_Minh'))
    today = datetime.now(UTC).astimezone(zone).date()
    month = (first_moment.astimezone(zone).date() if first_moment else today).replace(day=1)
    last = today.replace(day=1)
    for _ in range(MONTHS_AHEAD):
        last = _next(last)
    while month <= last:
        yield month, zone
        month = _next(month)


def _next(month):
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _create_partitions(first_moment):
    for month, zone in _local_months(first_moment):
        lower, upper = (
            datetime.combine(m, time(0), tzinfo=zone).astimezone(UTC) for m in (month, _next(month))
        )
        for table in ('responses', 'answers'):
            op.execute(
                f"CREATE TABLE {table}_p{month:%Y_%m} PARTITION OF {table} "
                f"FOR VALUES FROM ('{lower.isoformat()}') TO ('{upper.isoformat()}')"
            )
    for table in ('responses', 'answers'):
        op.execute(f'CREATE TABLE {table}_default PARTITION OF {table} DEFAULT')


def _rebuild(partitioned):
    """Rebuild responses and answers: partitioned (upgrade) or plain as before 0100 (downgrade)."""
    execute = op.execute
    execute('ALTER TABLE answers DROP CONSTRAINT fk_answers_response_id_responses')
    execute('ALTER TABLE conversations DROP CONSTRAINT fk_conversations_response_id_responses')
    if partitioned:
        execute('ALTER TABLE conversations ADD COLUMN response_submitted_at TIMESTAMP WITH TIME ZONE')
    else:
        for trigger in ('response_keys_insert', 'response_keys_update'):
            execute(f'DROP TRIGGER {trigger} ON responses')
        execute('DROP FUNCTION response_keys_write()')
        op.drop_table('response_keys')
        execute('ALTER TABLE conversations DROP COLUMN response_submitted_at')
    # The old tables step aside; their key, unique constraints and indexes go, freeing the names.
    execute('ALTER TABLE responses RENAME TO responses_old')
    execute('ALTER TABLE answers RENAME TO answers_old')
    for name in ('pk_responses', 'uq_responses_dossier_id', 'uq_responses_submission_token'):
        execute(f'ALTER TABLE responses_old DROP CONSTRAINT IF EXISTS {name}')
    execute('ALTER TABLE answers_old DROP CONSTRAINT pk_answers')
    for index in ('ix_responses_office_submitted', 'ix_responses_client_office_submitted',
                  'ix_responses_address_office_submitted', 'ix_responses_kiosk_submitted',
                  'ix_responses_claimed_dossier_id', 'ix_responses_submitted_at',
                  'ix_responses_dossier_id', 'ix_answers_question_id', 'ix_answers_comments'):
        execute(f'DROP INDEX IF EXISTS {index}')
    # The new tables, like the old ones: columns, defaults (the id sequence), CHECK constraints.
    like = 'INCLUDING DEFAULTS INCLUDING CONSTRAINTS'
    by_month = ' PARTITION BY RANGE (submitted_at)' if partitioned else ''
    execute(f'CREATE TABLE responses (LIKE responses_old {like}){by_month}')
    execute('ALTER SEQUENCE responses_id_seq OWNED BY responses.id')
    if partitioned:
        execute(f'CREATE TABLE answers (LIKE answers_old {like}, '
                f'submitted_at TIMESTAMP WITH TIME ZONE NOT NULL){by_month}')
        first = op.get_bind().scalar(sa.text('SELECT min(submitted_at) FROM responses_old'))
        _create_partitions(first)
    else:
        execute(f'CREATE TABLE answers (LIKE answers_old {like})')
        execute('ALTER TABLE answers DROP COLUMN submitted_at')
    # The rows, then the keys, indexes and foreign keys (faster on filled tables).
    execute('INSERT INTO responses SELECT * FROM responses_old')
    if partitioned:
        execute('INSERT INTO answers (response_id, question_id, value, text, submitted_at) '
                'SELECT a.response_id, a.question_id, a.value, a.text, r.submitted_at '
                'FROM answers_old a JOIN responses_old r ON r.id = a.response_id')
    else:
        execute('INSERT INTO answers (response_id, question_id, value, text) '
                'SELECT response_id, question_id, value, text FROM answers_old')
    response_key = '(id, submitted_at)' if partitioned else '(id)'
    answer_ref = '(response_id, submitted_at)' if partitioned else '(response_id)'
    answer_key = '(response_id, submitted_at, question_id)' if partitioned else '(response_id, question_id)'
    execute(f'ALTER TABLE responses ADD CONSTRAINT pk_responses PRIMARY KEY {response_key}')
    execute(f'ALTER TABLE answers ADD CONSTRAINT pk_answers PRIMARY KEY {answer_key}')
    for statement in RESPONSE_INDEXES + ANSWER_INDEXES:
        execute(statement)
    if partitioned:
        execute('CREATE INDEX ix_responses_dossier_id ON responses (dossier_id)')
    else:
        execute('ALTER TABLE responses ADD CONSTRAINT uq_responses_dossier_id UNIQUE (dossier_id)')
        execute('ALTER TABLE responses ADD CONSTRAINT uq_responses_submission_token '
                'UNIQUE (submission_token)')
    for column, table, action in RESPONSE_FKS:
        execute(f'ALTER TABLE responses ADD CONSTRAINT fk_responses_{column}_{table} '
                f'FOREIGN KEY ({column}) REFERENCES {table} (id){action}')
    execute('ALTER TABLE answers ADD CONSTRAINT fk_answers_question_id_questions '
            'FOREIGN KEY (question_id) REFERENCES questions (id)')
    execute(f'ALTER TABLE answers ADD CONSTRAINT fk_answers_response_id_responses '
            f'FOREIGN KEY {answer_ref} REFERENCES responses {response_key} ON DELETE CASCADE')
    if partitioned:
        execute('UPDATE conversations c SET response_submitted_at = r.submitted_at '
                'FROM responses r WHERE r.id = c.response_id')
        execute('ALTER TABLE conversations ADD CONSTRAINT fk_conversations_response_id_responses '
                'FOREIGN KEY (response_id, response_submitted_at) '
                'REFERENCES responses (id, submitted_at)')
        _create_response_keys()
        execute(KEYS_FUNCTION)
        for statement in PG_TRIGGERS:
            execute(statement)
    else:
        execute('ALTER TABLE conversations ADD CONSTRAINT fk_conversations_response_id_responses '
                'FOREIGN KEY (response_id) REFERENCES responses (id)')
    execute('DROP TABLE answers_old')
    execute('DROP TABLE responses_old')
    execute('ANALYZE responses')
    execute('ANALYZE answers')


def _create_response_keys():
    op.create_table(
        'response_keys',
        sa.Column('response_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('submission_token', sa.String(length=64), nullable=True),
        sa.Column('dossier_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['response_id', 'submitted_at'],
                                ['responses.id', 'responses.submitted_at'],
                                name=op.f('fk_response_keys_response_id_responses'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('response_id', name=op.f('pk_response_keys')),
        sa.UniqueConstraint('dossier_id', name=op.f('uq_response_keys_dossier_id')),
        sa.UniqueConstraint('submission_token', name=op.f('uq_response_keys_submission_token')),
    )
    op.execute(COPY_KEYS)


# --- SQLite --------------------------------------------------------------------------------------
def _sqlite_upgrade():
    with op.batch_alter_table('responses') as batch_op:
        batch_op.drop_constraint('uq_responses_dossier_id', type_='unique')
        batch_op.drop_constraint('uq_responses_submission_token', type_='unique')
        batch_op.create_unique_constraint('uq_responses_id_submitted_at', ['id', 'submitted_at'])
        batch_op.create_index('ix_responses_dossier_id', ['dossier_id'])
    op.add_column('answers', sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True))
    op.execute('UPDATE answers SET submitted_at = '
               '(SELECT submitted_at FROM responses WHERE responses.id = answers.response_id)')
    with op.batch_alter_table('answers') as batch_op:
        batch_op.alter_column('submitted_at', existing_type=sa.DateTime(timezone=True),
                              nullable=False)
        batch_op.drop_constraint('fk_answers_response_id_responses', type_='foreignkey')
        batch_op.create_foreign_key('fk_answers_response_id_responses', 'responses',
                                    ['response_id', 'submitted_at'], ['id', 'submitted_at'],
                                    ondelete='CASCADE')
    op.add_column('conversations', sa.Column('response_submitted_at', sa.DateTime(timezone=True),
                                             nullable=True))
    op.execute('UPDATE conversations SET response_submitted_at = '
               '(SELECT submitted_at FROM responses WHERE responses.id = conversations.response_id)')
    with op.batch_alter_table('conversations') as batch_op:
        batch_op.drop_constraint('fk_conversations_response_id_responses', type_='foreignkey')
        batch_op.create_foreign_key('fk_conversations_response_id_responses', 'responses',
                                    ['response_id', 'response_submitted_at'],
                                    ['id', 'submitted_at'])
    _create_response_keys()
    _sqlite_triggers()


def _sqlite_triggers():
    for statement in SQLITE_TRIGGERS:
        op.execute(statement)


def _sqlite_downgrade():
    op.execute('DROP TRIGGER response_keys_insert')
    op.execute('DROP TRIGGER response_keys_update')
    op.drop_table('response_keys')
    with op.batch_alter_table('conversations') as batch_op:
        batch_op.drop_constraint('fk_conversations_response_id_responses', type_='foreignkey')
        batch_op.drop_column('response_submitted_at')
        batch_op.create_foreign_key('fk_conversations_response_id_responses', 'responses',
                                    ['response_id'], ['id'])
    with op.batch_alter_table('answers') as batch_op:
        batch_op.drop_constraint('fk_answers_response_id_responses', type_='foreignkey')
        batch_op.drop_column('submitted_at')
        batch_op.create_foreign_key('fk_answers_response_id_responses', 'responses',
                                    ['response_id'], ['id'], ondelete='CASCADE')
    with op.batch_alter_table('responses') as batch_op:
        batch_op.drop_index('ix_responses_dossier_id')
        batch_op.drop_constraint('uq_responses_id_submitted_at', type_='unique')
        batch_op.create_unique_constraint('uq_responses_dossier_id', ['dossier_id'])
        batch_op.create_unique_constraint('uq_responses_submission_token', ['submission_token'])
