"""Monthly partitions of responses and answers (migration 0100, survey_app/partitions.py), and
the uniqueness that response_keys keeps across them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import bindparam, select, text
from sqlalchemy.exc import IntegrityError

from survey_app.models import (
    Answer,
    Channel,
    Conversation,
    Office,
    Response,
    ResponseKey,
    UTCDateTime,
)
from survey_app.partitions import month_bounds, month_start, next_month, partition_name
from survey_app.reporting.periods import local_today, zone

OFFICE_SQL = (
    "INSERT INTO offices (code, name, kind, ranking_group, is_active, sms_sampling_rate) "
    "VALUES ('HCC', 'Sở Tư pháp', 'department', 'departments', true, 1.0) RETURNING id"
)
RESPONSE_SQL = text(
    "INSERT INTO responses (office_id, questionnaire_id, channel, submitted_at, language, "
    "is_partial, integrity, submission_token, dossier_id) VALUES (:o, :q, :c, :t, 'vi', false, "
    "'valid', :token, :d) RETURNING id"
).bindparams(bindparam("t", type_=UTCDateTime()))  # stored as the app stores them
ANSWER_SQL = "INSERT INTO answers (response_id, question_id, value) VALUES (:r, :q, 3)"
# (submitted_at, submission token, bound to the dossier): an old month, last month, now
MOMENTS = (
    (datetime(2025, 3, 31, 18, 0, tzinfo=UTC), "tok-march", False),  # 1 April in Vietnam
    (datetime(2026, 11, 15, 9, 30, tzinfo=UTC), None, True),
    (datetime.now(UTC).replace(microsecond=0), "tok-now", False),
)


def _response(db, questionnaire, office, at, **fields) -> Response:
    response = Response(
        office=office,
        questionnaire_id=questionnaire.id,
        channel=Channel.QR_WEB,
        submitted_at=at,
        **fields,
    )
    response.answers.append(Answer(question_id=questionnaire.questions[0].id, value=4))
    db.session.add(response)
    db.session.flush()
    return response


def _partition_of(db, table: str, **key) -> str:
    where = " AND ".join(f"{k} = :{k}" for k in key)
    sql = f"SELECT tableoid::regclass::text FROM {table} WHERE {where}"
    return db.session.scalar(text(sql), key)


@pytest.fixture
def month_range():
    """This local month's partition names and UTC bounds."""
    with_zone = zone()
    month = month_start(local_today())
    return month, *month_bounds(month, with_zone)


def test_migration_converts_a_database_with_rows(empty_database_url):
    """0090 → 0100 with responses, answers and a conversation: every row is kept, answers take
    their response's submitted_at, response_keys holds the tokens and dossiers; on PostgreSQL
    both tables are partitioned by month with their keys and foreign keys. The downgrade puts
    every row back."""
    from flask_migrate import downgrade, upgrade

    from survey_app import create_app
    from survey_app.services.questionnaires import ensure_default_questionnaire

    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database_url, "TESTING": True})
    rows = "SELECT response_id, question_id, value, text FROM answers ORDER BY 1, 2"
    with app.app_context():
        from survey_app.extensions import db

        upgrade(revision="0090")
        questionnaire = ensure_default_questionnaire()
        office_id = db.session.execute(text(OFFICE_SQL)).scalar_one()
        dossier_id = db.session.execute(
            text(
                "INSERT INTO dossiers (office_id, code, phone_status, created_at, updated_at) "
                "VALUES (:o, 'HS-1', 'missing', :t, :t) RETURNING id"
            ),
            {"o": office_id, "t": MOMENTS[0][0]},
        ).scalar_one()
        ids, questions = [], [q.id for q in questionnaire.questions[:3]]
        for at, token, bound in MOMENTS:
            params = {"o": office_id, "q": questionnaire.id, "c": "qr_web", "t": at}
            params |= {"token": token, "d": dossier_id if bound else None}
            ids.append(db.session.execute(RESPONSE_SQL, params).scalar_one())
            for qid in questions:
                db.session.execute(
                    text(ANSWER_SQL),
                    {"r": ids[-1], "q": qid},
                )
        invitation = db.session.execute(
            text(
                "INSERT INTO invitations (dossier_id, office_id, sampling_probability, status, "
                "language, attempts, next_attempt_at, created_at, mode) VALUES (:d, :o, 1.0, "
                "'answered', 'vi', 1, :t, :t, 'reply') RETURNING id"
            ),
            {"d": dossier_id, "o": office_id, "t": MOMENTS[1][0]},
        ).scalar_one()
        db.session.execute(
            text(
                "INSERT INTO conversations (invitation_id, response_id, step, retries, status, "
                "language, expires_at, created_at, updated_at) VALUES (:i, :r, 2, 0, "
                "'completed', 'vi', :t, :t, :t)"
            ),
            {"i": invitation, "r": ids[1], "t": MOMENTS[1][0]},
        )
        db.session.commit()
        before = db.session.execute(text(rows)).all()
        questionnaire_id = questionnaire.id
        db.session.remove()

        upgrade(revision="0100")
        assert db.session.execute(text(rows)).all() == before
        for rid, (at, token, bound) in zip(ids, MOMENTS, strict=True):
            response = db.session.get(Response, rid)
            assert response.submitted_at == at
            assert [a.submitted_at for a in response.answers] == [at] * len(questions)
            key = db.session.get(ResponseKey, rid)
            assert (key.submission_token, key.dossier_id) == (token, dossier_id if bound else None)
            assert key.submitted_at == at
        conversation = db.session.scalars(select(Conversation)).one()
        assert (conversation.response_id, conversation.response_submitted_at) == (
            ids[1],
            MOMENTS[1][0],
        )
        if db.engine.dialect.name == "postgresql":
            _check_partitioned(db, ids)
        # the sequence goes on after the copied rows
        new = Response(
            office=db.session.get(Office, office_id),
            questionnaire_id=questionnaire_id,
            channel=Channel.QR_WEB,
            submitted_at=MOMENTS[2][0],
        )
        db.session.add(new)
        db.session.flush()
        assert new.id > max(ids)
        db.session.rollback()
        db.session.remove()

        downgrade(revision="0090")
        assert db.session.execute(text(rows)).all() == before
        db.session.remove()
        db.engine.dispose()


def _check_partitioned(db, ids) -> None:
    """Both tables partitioned by RANGE (submitted_at), a partition a month and DEFAULT; keys
    and foreign keys of the design; each row in its month's partition."""
    strategy = dict(
        db.session.execute(
            text(
                "SELECT partrelid::regclass::text, partstrat FROM pg_partitioned_table "
                "WHERE partrelid IN ('responses'::regclass, 'answers'::regclass)"
            )
        ).all()
    )
    assert strategy == {"responses": "r", "answers": "r"}
    children = set(
        db.session.scalars(
            text(
                "SELECT inhrelid::regclass::text FROM pg_inherits "
                "WHERE inhparent = 'responses'::regclass"
            )
        )
    )
    first = month_start(date(2025, 4, 1))  # the first response's local month
    expected, month = {"responses_default"}, first
    while month <= month_start(local_today()):
        expected.add(partition_name("responses", month))
        month = next_month(month)
    assert expected <= children
    assert _partition_of(db, "responses", id=ids[0]) == "responses_p2025_04"
    assert _partition_of(db, "answers", response_id=ids[0], question_id=_any_question(db)) == (
        "answers_p2025_04"
    )
    assert _partition_of(db, "responses", id=ids[1]) == "responses_p2026_11"
    definitions = dict(
        db.session.execute(
            text(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid IN ('responses'::regclass, 'answers'::regclass, "
                "'conversations'::regclass, 'response_keys'::regclass) "
                "AND contype IN ('p', 'f', 'u')"
            )
        ).all()
    )
    assert definitions["pk_responses"] == "PRIMARY KEY (id, submitted_at)"
    assert definitions["pk_answers"] == "PRIMARY KEY (response_id, submitted_at, question_id)"
    assert definitions["fk_answers_response_id_responses"] == (
        "FOREIGN KEY (response_id, submitted_at) REFERENCES responses(id, submitted_at) "
        "ON DELETE CASCADE"
    )
    assert definitions["fk_conversations_response_id_responses"] == (
        "FOREIGN KEY (response_id, response_submitted_at) REFERENCES responses(id, submitted_at)"
    )
    assert definitions["uq_response_keys_submission_token"] == "UNIQUE (submission_token)"
    assert definitions["uq_response_keys_dossier_id"] == "UNIQUE (dossier_id)"


def _any_question(db) -> int:
    return db.session.scalar(text("SELECT min(question_id) FROM answers"))


@pytest.mark.postgres
def test_a_month_without_partition_goes_to_default(db, is_postgres, make_office, questionnaire):
    """A response of a month with no partition is stored in DEFAULT and works like any other;
    add-partitions leaves that month alone (its rows would not fit) and is idempotent."""
    if not is_postgres:
        pytest.skip("partitions are PostgreSQL's")
    from survey_app.partitions import add_coming_partitions, add_partitions

    office = make_office()
    far = datetime(2035, 6, 10, 3, 0, tzinfo=UTC)
    response = _response(db, questionnaire, office, far, submission_token="tok-2035")
    db.session.commit()
    assert _partition_of(db, "responses", id=response.id) == "responses_default"
    assert _partition_of(db, "answers", response_id=response.id) == "answers_default"
    db.session.expire_all()
    assert db.session.get(Response, response.id).answers[0].value == 4
    added = add_partitions(db.session.connection(), date(2035, 5, 1), 2, zone())
    assert added.created == ["responses_p2035_05", "answers_p2035_05"]
    assert added.in_default == [date(2035, 6, 1)]
    assert add_coming_partitions(3).created == []  # the migration made them: nothing to do
    db.session.rollback()


def test_add_partitions_command(runner, is_postgres):
    """`flask mscore add-partitions` makes the coming months' partitions once (nothing on
    SQLite)."""
    first = runner.invoke(args=["mscore", "add-partitions", "--months", "5"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(args=["mscore", "add-partitions", "--months", "5"])
    assert second.exit_code == 0 and second.output == ""
    if is_postgres:
        month = month_start(local_today())
        for _ in range(4):
            month = next_month(month)
        assert partition_name("answers", month) in first.output


def test_a_token_and_a_dossier_stay_unique_across_months(
    db, make_office, make_dossier, questionnaire
):
    """One response per submission token and per dossier, even months apart (other partitions);
    deleting a response frees its keys."""
    office = make_office()
    dossier = make_dossier(office)
    old = datetime(2025, 1, 20, tzinfo=UTC)
    kept = _response(db, questionnaire, office, old, submission_token="tok-1", dossier=dossier)
    db.session.commit()
    for fields in ({"submission_token": "tok-1"}, {"dossier": dossier}):
        with pytest.raises(IntegrityError):
            _response(db, questionnaire, office, datetime.now(UTC), **fields)
        db.session.rollback()
    assert db.session.scalar(select(ResponseKey.response_id)) == kept.id
    db.session.delete(db.session.get(Response, kept.id))
    db.session.commit()
    assert db.session.scalar(select(ResponseKey.response_id)) is None
    again = _response(db, questionnaire, office, datetime.now(UTC), submission_token="tok-1")
    db.session.commit()
    assert db.session.get(ResponseKey, again.id).submission_token == "tok-1"


def test_explain_of_a_month_reads_only_its_partitions(db, is_postgres, month_range):
    """The live part of a month's report, a month's comments and the responses API's answers of
    a page of the month read this month's partitions of responses and answers, and no other
    (pruned at planning)."""
    if not is_postgres:
        pytest.skip("partitions are PostgreSQL's")
    from survey_app.api.responses import answers_query
    from survey_app.exports import comments_query
    from survey_app.reporting.counts import raw_answers, raw_patterns, raw_responses

    month, start, end = month_range
    live = start + timedelta(days=3)  # a day inside the month, to its end
    statements = {
        "responses": raw_responses(live, end, day=True),
        "answers": raw_answers(live, end, day=True),
        "patterns": raw_patterns(live, end, day=True),
        "comments": comments_query(start, end, ["HCC"], False, 500),
        # the responses API's answers of a page of this month's responses
        "page answers": answers_query([1, 2, 3], live, end - timedelta(seconds=1)),
    }
    this = {partition_name(t, month) for t in ("responses", "answers")}
    for name, statement in statements.items():
        sql = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
        plan = "\n".join(db.session.scalars(text(f"EXPLAIN (COSTS OFF) {sql}")))
        scanned = {p for p in _partitions_named(plan)}
        wanted = {partition_name("responses", month)}
        if name == "page answers":
            wanted = {partition_name("answers", month)}
        elif name != "responses":
            wanted |= this
        assert scanned == wanted, f"{name}: {scanned}\n{plan}"


def _partitions_named(plan: str):
    import re

    return set(re.findall(r"\b((?:responses|answers)_(?:p\d{4}_\d{2}|default))\b", plan))
