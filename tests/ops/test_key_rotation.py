"""PHONE_ENCRYPTION_KEY may list several Fernet keys: new numbers use the first, old ones still
decrypt, and `flask mscore rotate-phone-key` re-encrypts them under the first key in batches."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select

from survey_app.config import ConfigError, check_production
from survey_app.models import Dossier
from survey_app.protection import decrypt_phone, encrypt_phone

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


@pytest.fixture
def app_config(app_config):
    return {**app_config, "PHONE_ENCRYPTION_KEY": OLD}


def _tokens(db) -> list[str]:
    db.session.remove()
    return list(db.session.scalars(select(Dossier.phone_encrypted).order_by(Dossier.id)))


def _opens(key: str, token: str) -> bool:
    try:
        Fernet(key.encode()).decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def test_rotation_reencrypts_every_number_under_the_new_key(
    app, db, runner, make_office, make_dossier
):
    office = make_office(code="KEY1")
    numbers = [f"09{i:08d}" for i in range(5)]
    for i, number in enumerate(numbers):
        make_dossier(office, code=f"K-{i}", phone=number)
    make_dossier(office, code="K-none")  # no number: nothing to do
    assert all(_opens(OLD, t) for t in _tokens(db) if t)

    app.config["PHONE_ENCRYPTION_KEY"] = f"{NEW},{OLD}"  # the new key first
    old_tokens = [t for t in _tokens(db) if t]
    assert [decrypt_phone(t) for t in old_tokens] == [f"+849{n[2:]}" for n in numbers]
    assert _opens(NEW, encrypt_phone("+84900000001"))  # new data: the first key

    result = runner.invoke(args=["mscore", "rotate-phone-key", "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    assert "2/5 numbers read, 2 re-encrypted" in result.output  # progress per batch
    assert "done: 5 re-encrypted" in result.output
    rotated = [t for t in _tokens(db) if t]
    assert all(_opens(NEW, t) and not _opens(OLD, t) for t in rotated)

    again = runner.invoke(args=["mscore", "rotate-phone-key"])
    assert "done: 0 re-encrypted, 5 were under the first key already" in again.output
    app.config["PHONE_ENCRYPTION_KEY"] = NEW  # the old key can go now
    assert [decrypt_phone(t) for t in rotated] == [f"+849{n[2:]}" for n in numbers]


def test_a_number_no_key_opens_stops_the_rotation_with_its_place(
    app, db, runner, make_office, make_dossier
):
    office = make_office(code="KEY2")
    make_dossier(office, code="K-1", phone="0912345678")
    app.config["PHONE_ENCRYPTION_KEY"] = NEW  # the old key forgotten: nothing opens it
    result = runner.invoke(args=["mscore", "rotate-phone-key"])
    assert result.exit_code != 0 and "after dossier id 0" in result.output


def test_production_accepts_a_list_of_keys_and_names_a_bad_one():
    config = {
        "MSCORE_ENV": "production",
        "SECRET_KEY": "s" * 40,
        "PUBLIC_BASE_URL": "https://mscore.example",
        "PHONE_HASH_KEY": "h" * 40,
        "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://db/mscore",
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
        "PHONE_ENCRYPTION_KEY": f"{NEW},{OLD}",
    }
    assert "PHONE_ENCRYPTION_KEY" not in _problems(config)
    assert "PHONE_ENCRYPTION_KEY" in _problems({**config, "PHONE_ENCRYPTION_KEY": f"{NEW},nope"})


def _problems(config: dict) -> str:
    """What the production check refuses ('' when nothing): other settings may be added."""
    try:
        check_production(config)
    except ConfigError as refused:
        return str(refused)
    return ""


def test_secret_key_fallbacks_from_the_environment_keep_sessions_signed_by_the_old_key(
    app_config, tmp_path
):
    from survey_app import create_app
    from survey_app.config import load_config

    old, new = "old-secret-key-" + "o" * 32, "new-secret-key-" + "n" * 32

    def app_with(environ: dict):
        config = load_config(str(tmp_path), environ)
        keys = {k: config[k] for k in ("SECRET_KEY", "SECRET_KEY_FALLBACKS")}
        return create_app({**app_config, **keys})

    before = app_with({"SECRET_KEY": old}).test_client()
    before.get("/s/NOPE?lang=en")  # the language choice is kept in the signed session
    cookie = before.get_cookie("session").value

    def language(app) -> str:
        client = app.test_client()
        client.set_cookie("session", cookie)
        return client.get("/s/NOPE").get_data(as_text=True).split('lang="')[1][:2]

    assert language(app_with({"SECRET_KEY": new, "SECRET_KEY_FALLBACKS": f" {old} ,"})) == "en"
    assert language(app_with({"SECRET_KEY": new})) == "vi"  # without it: a new session
