"""Configuration, read from the environment once, when the app is created."""

from __future__ import annotations

import math
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet

DEV_SECRET_KEY = "dev-not-secret"

#: Settings that must come from the environment in production.
PRODUCTION_SECRETS = ("SECRET_KEY", "PHONE_ENCRYPTION_KEY", "PHONE_HASH_KEY", "PUBLIC_BASE_URL")


class ConfigError(RuntimeError):
    """The configuration is unsafe or incomplete; the message says what to set."""


def _instance_secret(instance_path: Path, name: str, make) -> str:
    """Return a development secret kept in instance/, creating it on first use."""
    instance_path.mkdir(parents=True, exist_ok=True)
    path = instance_path / name
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def load_config(instance_path: str, environ: os._Environ | dict | None = None) -> dict:
    """Build the Flask config from environment variables, with development defaults."""
    env = os.environ if environ is None else environ
    instance = Path(instance_path)
    is_production = env.get("MSCORE_ENV", "development") == "production"
    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'mscore.sqlite'}"
    if database_url.startswith("postgres://"):  # Heroku-style URL; SQLAlchemy wants the dialect
        database_url = "postgresql+psycopg://" + database_url[len("postgres://") :]
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://") :]

    config = {
        "MSCORE_ENV": "production" if is_production else "development",
        "SECRET_KEY": env.get("SECRET_KEY") or ("" if is_production else DEV_SECRET_KEY),
        # former SECRET_KEYs, comma-separated: what they signed (sessions, cookies, rating
        # links) is still read while SECRET_KEY signs anew (key rotation, docs/operations.md)
        "SECRET_KEY_FALLBACKS": [
            key.strip() for key in env.get("SECRET_KEY_FALLBACKS", "").split(",") if key.strip()
        ],
        "SQLALCHEMY_DATABASE_URI": database_url,
        # PostgreSQL connections idle longer than this are checked before use (extensions.py)
        "DB_PING_AFTER_IDLE_SECONDS": float(env.get("DB_PING_AFTER_IDLE_SECONDS", "1")),
        "PUBLIC_BASE_URL": (env.get("PUBLIC_BASE_URL") or "http://127.0.0.1:5000").rstrip("/"),
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI")
        or env.get("REDIS_URL")
        or "memory://",
        # X-RateLimit-* headers cost a storage round trip per request; browsers ignore them
        "RATELIMIT_HEADERS_ENABLED": False,
        # Redis down or hung must not cost a citizen's answers (it was a 500): Flask-Limiter
        # counts in each process's memory until the storage answers again, and waits for it
        # at most half a second
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_STORAGE_OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        "SURVEY_RATE_LIMIT": env.get("SURVEY_RATE_LIMIT", "20 per minute;200 per day"),
        "TIMEZONE": env.get("TIMEZONE", "Asia/Ho_Chi_Minh"),
        "BABEL_DEFAULT_LOCALE": "vi",
        "BABEL_DEFAULT_TIMEZONE": env.get("TIMEZONE", "Asia/Ho_Chi_Minh"),
        "LANGUAGES": ("vi", "en"),
        "WTF_CSRF_TIME_LIMIT": None,  # a form may sit open at the counter; the session binds it
        "MAX_CONTENT_LENGTH": 64 * 1024,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": is_production,
        "SMS_PROVIDER": env.get("SMS_PROVIDER", "console"),
        "TWILIO_ACCOUNT_SID": env.get("TWILIO_ACCOUNT_SID", ""),
        "TWILIO_AUTH_TOKEN": env.get("TWILIO_AUTH_TOKEN", ""),
        "TWILIO_MESSAGING_SERVICE_SID": env.get("TWILIO_MESSAGING_SERVICE_SID", ""),
        "TWILIO_FROM_NUMBER": env.get("TWILIO_FROM_NUMBER", ""),
        "TWILIO_API_BASE_URL": env.get("TWILIO_API_BASE_URL", ""),  # tests: the fake server
        "SMS_LANGUAGE": env.get("SMS_LANGUAGE", "vi"),
        "SMS_TEXTS_FILE": env.get("SMS_TEXTS_FILE", ""),  # JSON {"vi": {key: template}, ...}
        "SMS_QUESTIONS": tuple(
            env.get("SMS_QUESTIONS", "result_on_time,staff_polite,extra_payment,comment").split(",")
        ),
        "SMS_REINVITE_DAYS": int(env.get("SMS_REINVITE_DAYS", "30")),
        "SMS_INVITE_MAX_AGE_DAYS": int(env.get("SMS_INVITE_MAX_AGE_DAYS", "7")),
        "SMS_CONVERSATION_HOURS": int(env.get("SMS_CONVERSATION_HOURS", "72")),
        "SMS_QUIET_START": int(env.get("SMS_QUIET_START", "21")),
        "SMS_QUIET_END": int(env.get("SMS_QUIET_END", "7")),
        "SMS_MAX_ATTEMPTS": int(env.get("SMS_MAX_ATTEMPTS", "5")),
        "SMS_RETRY_BASE_SECONDS": float(env.get("SMS_RETRY_BASE_SECONDS", "30")),
        "SMS_RETRY_MAX_SECONDS": float(env.get("SMS_RETRY_MAX_SECONDS", "3600")),
        "SMS_BATCH_SIZE": int(env.get("SMS_BATCH_SIZE", "100")),
        "SMS_WORKER_CONCURRENCY": int(env.get("SMS_WORKER_CONCURRENCY", "8")),
        "SMS_POLL_SECONDS": float(env.get("SMS_POLL_SECONDS", "2")),
        "SMS_PROVIDER_TIMEOUT": float(env.get("SMS_PROVIDER_TIMEOUT", "10")),
        "PAR_MAX_POINTS": float(env.get("PAR_MAX_POINTS", "10")),  # satisfaction's PAR points
        "REPORT_MIN_CELL": int(env.get("REPORT_MIN_CELL", "10")),  # post-strata smaller merge
        "REPORT_TIER_TARGET": float(env["REPORT_TIER_TARGET"])
        if env.get("REPORT_TIER_TARGET")
        else None,  # tiers against a target share (e.g. 0.8) instead of the group mean
        "REPORT_MAX_COMMENTS": int(env.get("REPORT_MAX_COMMENTS", "5000")),
        "RESPONSES_SETTLE_SECONDS": float(env.get("RESPONSES_SETTLE_SECONDS", "2")),
        "PHONE_DEFAULT_REGION": env.get("PHONE_DEFAULT_REGION", "VN"),
        "PHONE_ENCRYPTION_KEY": env.get("PHONE_ENCRYPTION_KEY", ""),
        "PHONE_HASH_KEY": env.get("PHONE_HASH_KEY", ""),
        # operations (docs/operations.md): logs, metrics, readiness
        "LOG_FORMAT": env.get("LOG_FORMAT") or ("json" if is_production else "text"),
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO"),
        "METRICS_TOKEN": env.get("METRICS_TOKEN", ""),  # none: /metrics is off (404)
        "READYZ_OUTBOX_LATE_SECONDS": float(env.get("READYZ_OUTBOX_LATE_SECONDS", "600")),
    }
    # A send unconfirmed after the lease is reconciled with the provider, so the lease must
    # outlast the slowest batch: every text of it timing out, `concurrency` at a time.
    config["SMS_SEND_LEASE_SECONDS"] = float(
        env.get("SMS_SEND_LEASE_SECONDS") or 2 * slowest_batch_seconds(config)
    )
    if not is_production:
        if not config["PHONE_ENCRYPTION_KEY"]:
            config["PHONE_ENCRYPTION_KEY"] = _instance_secret(
                instance, "phone_encryption.key", lambda: Fernet.generate_key().decode()
            )
        if not config["PHONE_HASH_KEY"]:
            config["PHONE_HASH_KEY"] = _instance_secret(
                instance, "phone_hash.key", lambda: secrets.token_urlsafe(32)
            )
    return config


def slowest_batch_seconds(config) -> float:
    """The longest an SMS worker can spend sending one batch (each text at its timeout)."""
    rounds = math.ceil(config["SMS_BATCH_SIZE"] / max(1, config["SMS_WORKER_CONCURRENCY"]))
    return rounds * config["SMS_PROVIDER_TIMEOUT"]


def _is_fernet_key(key: str) -> bool:
    try:
        Fernet(key.strip())
    except ValueError:
        return False
    return True


def check_production(config: dict) -> None:
    """Refuse to run in production with a missing or development secret."""
    if config.get("MSCORE_ENV") != "production":
        return
    problems = [f"{name} is not set" for name in PRODUCTION_SECRETS if not config.get(name)]
    if config.get("SECRET_KEY") == DEV_SECRET_KEY:
        problems.append("SECRET_KEY is the development value")
    elif config.get("SECRET_KEY") and len(config["SECRET_KEY"]) < 32:
        problems.append("SECRET_KEY is shorter than 32 characters")
    keys = config.get("PHONE_ENCRYPTION_KEY") or ""
    if keys and not all(_is_fernet_key(key) for key in keys.split(",")):  # several: rotation
        problems.append(
            "PHONE_ENCRYPTION_KEY is not a Fernet key (32 url-safe base64 bytes), or a "
            "comma-separated list of them, newest first"
        )
    if config.get("PHONE_HASH_KEY") and len(config["PHONE_HASH_KEY"]) < 32:
        problems.append("PHONE_HASH_KEY is shorter than 32 characters")
    if config.get("SQLALCHEMY_DATABASE_URI", "").startswith("sqlite"):
        problems.append("DATABASE_URL is not set (SQLite is for development only)")
    if config.get("RATELIMIT_STORAGE_URI") == "memory://":
        problems.append("RATELIMIT_STORAGE_URI is not set (in-memory limits are per process)")
    if config.get("SMS_PROVIDER") == "twilio" and not config.get("TWILIO_AUTH_TOKEN"):
        problems.append("TWILIO_AUTH_TOKEN is not set while SMS_PROVIDER=twilio")
    if problems:
        raise ConfigError(
            "mscore refuses to start with MSCORE_ENV=production: "
            + "; ".join(problems)
            + ". Set these environment variables (see docs/operations.md)."
        )
