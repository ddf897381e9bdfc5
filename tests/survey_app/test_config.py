"""Configuration comes from the environment; production refuses unsafe settings."""

import base64
import secrets

import pytest
from cryptography.fernet import Fernet

from survey_app import create_app
from survey_app.config import ConfigError, check_production, load_config

GOOD_PRODUCTION = {
    "MSCORE_ENV": "production",
    "SECRET_KEY": "Zq3v9-Xw7Lr2Tt8bNc5Mk1Hy6Pd4Gf0Sa_Ue",
    "DATABASE_URL": "postgresql://u@db/mscore",
    "PUBLIC_BASE_URL": "https://mscore.example.gov.vn",
    "PHONE_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    "PHONE_HASH_KEY": "p8Rk2Vw-Nd5Lq7Ys1Hc9Jx4Ft6Bm0Gz3Ea_Tu",
    "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
    "PROXY_FIX_X_FOR": "1",
}


def test_development_defaults(tmp_path):
    config = load_config(str(tmp_path), {})
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'mscore.sqlite'}"
    assert config["TIMEZONE"] == "Asia/Ho_Chi_Minh"
    assert config["RATELIMIT_STORAGE_URI"] == "memory://"
    Fernet(config["PHONE_ENCRYPTION_KEY"])  # a usable generated key
    # generated once into instance/ and reused
    assert load_config(str(tmp_path), {})["PHONE_HASH_KEY"] == config["PHONE_HASH_KEY"]
    check_production(config)  # development never refuses


def test_database_url_dialect_is_made_explicit(tmp_path):
    config = load_config(str(tmp_path), {"DATABASE_URL": "postgres://u:p@h:5432/d"})
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:p@h:5432/d"


def test_production_accepts_complete_settings(tmp_path):
    check_production(load_config(str(tmp_path), GOOD_PRODUCTION))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY is not set"),
        ({"SECRET_KEY": "dev-not-secret"}, "SECRET_KEY is the development value"),
        ({"PHONE_ENCRYPTION_KEY": ""}, "PHONE_ENCRYPTION_KEY is not set"),
        ({"PHONE_ENCRYPTION_KEY": "short"}, "not a Fernet key"),
        ({"PHONE_HASH_KEY": ""}, "PHONE_HASH_KEY is not set"),
        ({"DATABASE_URL": ""}, "DATABASE_URL is not set"),
        ({"RATELIMIT_STORAGE_URI": ""}, "RATELIMIT_STORAGE_URI is not set"),
        ({"PROXY_FIX_X_FOR": ""}, "PROXY_FIX_X_FOR is not set"),
    ],
)
def test_production_refuses_missing_or_development_secrets(tmp_path, change, message):
    with pytest.raises(ConfigError, match=message):
        check_production(load_config(str(tmp_path), {**GOOD_PRODUCTION, **change}))


ALL_ZERO_FERNET = base64.urlsafe_b64encode(bytes(32)).decode()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"PUBLIC_BASE_URL": ""}, "PUBLIC_BASE_URL is not set"),
        ({"PUBLIC_BASE_URL": "http://mscore.example.gov.vn"}, "PUBLIC_BASE_URL must be an https"),
        ({"PUBLIC_BASE_URL": "https://"}, "PUBLIC_BASE_URL must be an https"),
        ({"FLASK_DEBUG": "1"}, "FLASK_DEBUG is on"),
        ({"SECRET_KEY": "a" * 32}, "SECRET_KEY is weak"),
        ({"SECRET_KEY": "ab" * 20}, "SECRET_KEY is weak"),
        ({"PHONE_ENCRYPTION_KEY": ALL_ZERO_FERNET}, "PHONE_ENCRYPTION_KEY is a weak Fernet key"),
        (
            {"PHONE_ENCRYPTION_KEY": base64.urlsafe_b64encode(bytes(range(16)) * 2).decode()},
            "PHONE_ENCRYPTION_KEY is a weak Fernet key",
        ),
        ({"PHONE_HASH_KEY": GOOD_PRODUCTION["SECRET_KEY"]}, "PHONE_HASH_KEY equals SECRET_KEY"),
        ({"PHONE_HASH_KEY": "h" * 40}, "PHONE_HASH_KEY is weak"),
    ],
)
def test_production_refuses_unsafe_settings(tmp_path, change, message):
    """Issue 16 §4: each of these started in production; each problem is named."""
    with pytest.raises(ConfigError, match=message):
        check_production(load_config(str(tmp_path), {**GOOD_PRODUCTION, **change}))


def test_production_names_every_problem_at_once(tmp_path):
    settings = {**GOOD_PRODUCTION, "SECRET_KEY": "a" * 32, "FLASK_DEBUG": "1"}
    settings["PUBLIC_BASE_URL"] = "http://mscore.example.gov.vn"
    with pytest.raises(ConfigError) as error:
        check_production(load_config(str(tmp_path), settings))
    for name in ("SECRET_KEY", "FLASK_DEBUG", "PUBLIC_BASE_URL"):
        assert name in str(error.value)


def test_random_secrets_pass_the_strength_check(tmp_path):
    for _ in range(20):
        settings = {
            **GOOD_PRODUCTION,
            "SECRET_KEY": secrets.token_hex(16),
            "PHONE_HASH_KEY": secrets.token_urlsafe(32),
            "PHONE_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        }
        check_production(load_config(str(tmp_path), settings))


@pytest.mark.parametrize("value", ["Production", "prod", "PRODUCTION", " production", "staging"])
def test_an_unknown_environment_refuses_to_start(monkeypatch, tmp_path, value):
    """`MSCORE_ENV=Production` started in development mode, with the development secret."""
    monkeypatch.setenv("MSCORE_ENV", value)
    monkeypatch.setenv("MSCORE_INSTANCE_PATH", str(tmp_path))
    with pytest.raises(ConfigError, match="MSCORE_ENV"):
        create_app()
    assert not (tmp_path / "phone_hash.key").exists()


@pytest.mark.parametrize("value", ["development", "test"])
def test_known_environments_start(tmp_path, value):
    config = load_config(str(tmp_path), {"MSCORE_ENV": value})
    assert config["MSCORE_ENV"] == value and config["PUBLIC_BASE_URL"]
    check_production(config)


def test_production_fills_in_no_public_base_url(tmp_path):
    assert load_config(str(tmp_path), {"MSCORE_ENV": "production"})["PUBLIC_BASE_URL"] == ""


def test_create_app_refuses_to_start_in_production_without_secrets(monkeypatch, tmp_path):
    monkeypatch.setenv("MSCORE_ENV", "production")
    monkeypatch.setenv("MSCORE_INSTANCE_PATH", str(tmp_path))
    for name in ("SECRET_KEY", "PHONE_ENCRYPTION_KEY", "PHONE_HASH_KEY", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="refuses to start"):
        create_app()
    assert not (tmp_path / "phone_hash.key").exists()  # no development key made in production


def test_sms_lease_outlasts_the_slowest_batch_unless_set(tmp_path):
    config = load_config(str(tmp_path), {})
    # 100 texts, 8 at a time, 10 s timeout: 13 rounds, 130 s at worst; the lease is twice that
    assert config["SMS_SEND_LEASE_SECONDS"] == 260
    bigger = load_config(str(tmp_path), {"SMS_BATCH_SIZE": "400", "SMS_PROVIDER_TIMEOUT": "5"})
    assert bigger["SMS_SEND_LEASE_SECONDS"] == 2 * 50 * 5
    assert (
        load_config(str(tmp_path), {"SMS_SEND_LEASE_SECONDS": "90"})["SMS_SEND_LEASE_SECONDS"] == 90
    )


def test_sessions_follow_the_secret_key_and_its_fallbacks(app):
    """Signed-cookie sessions build their serializer once per key set: a cookie signed with
    the current key is read back; after a key rotation it is still read while the old key is a
    fallback, and not once the fallback is gone."""

    @app.get("/test-session/<value>")
    def put(value):
        from flask import session

        session["v"] = value
        return ""

    @app.get("/test-session")
    def get():
        from flask import session

        return session.get("v", "none")

    phone = app.test_client()
    phone.get("/test-session/mot")
    assert phone.get("/test-session").text == "mot"
    old_key = app.secret_key
    app.config["SECRET_KEY"] = "rotated-" + "k" * 40
    app.config["SECRET_KEY_FALLBACKS"] = [old_key]
    assert phone.get("/test-session").text == "mot"  # signed with the old key, a fallback
    phone.get("/test-session/hai")  # signed again, with the new key
    app.config["SECRET_KEY_FALLBACKS"] = []
    assert phone.get("/test-session").text == "hai"
    app.config["SECRET_KEY"] = "another-" + "k" * 40
    assert phone.get("/test-session").text == "none"  # signed with a key no longer trusted


@pytest.mark.parametrize(("value", "hops"), [("0", 0), ("1", 1), ("2", 2), (None, None)])
def test_proxy_hops_come_from_the_environment(tmp_path, value, hops):
    env = {} if value is None else {"PROXY_FIX_X_FOR": value}
    assert load_config(str(tmp_path), env)["PROXY_FIX_X_FOR"] == hops


def test_a_proxy_hop_count_that_is_not_a_number_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="PROXY_FIX_X_FOR='two'"):
        load_config(str(tmp_path), {"PROXY_FIX_X_FOR": "two"})


def test_the_report_caches_come_from_the_environment(tmp_path):
    defaults = load_config(str(tmp_path), {})
    assert (
        defaults["REPORT_CACHE_SECONDS"],
        defaults["REPORT_CACHE_MB"],
        defaults["REPORT_CACHE_OFFICES"],
        defaults["DASHBOARD_CACHE_SECONDS"],
        defaults["DASHBOARD_LIVE_SECONDS"],
        defaults["DASHBOARD_CACHE_MB"],
    ) == (600, 128, 50_000, 600, 60, 128)
    names = {
        "REPORT_CACHE_SECONDS": "0",
        "REPORT_CACHE_MB": "512",
        "REPORT_CACHE_OFFICES": "150000",
        "DASHBOARD_CACHE_SECONDS": "30",
        "DASHBOARD_LIVE_SECONDS": "0",
        "DASHBOARD_CACHE_MB": "32",
    }
    config = load_config(str(tmp_path), names)
    assert {name: config[name] for name in names} == {
        name: float(value) for name, value in names.items()
    }
