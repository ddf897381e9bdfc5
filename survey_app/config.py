"""Configuration, read from the environment once, when the app is created."""

from __future__ import annotations

import base64
import binascii
import math
import os
import secrets
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.fernet import Fernet

DEV_SECRET_KEY = "dev-not-secret"

#: Settings that must come from the environment in production.
PRODUCTION_SECRETS = ("SECRET_KEY", "PHONE_ENCRYPTION_KEY", "PHONE_HASH_KEY", "PUBLIC_BASE_URL")
#: What MSCORE_ENV may be; anything else (`Production`, `prod`) refuses to start.
ENVIRONMENTS = ("development", "test", "production")
#: A secret must look like at least this many bits of randomness (a 32-byte random key in hex
#: or base64 shows 120-250; 32 times the same character shows 0).
MIN_SECRET_BITS = 96


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


def _proxy_hops(value: str | None) -> int | None:
    """PROXY_FIX_X_FOR as a number of trusted proxies (None when unset)."""
    if value is None or value.strip() == "":
        return None
    if not value.strip().isdigit():
        raise ConfigError(
            f"PROXY_FIX_X_FOR={value!r}: give the number of reverse proxies in front of the app "
            "(0 when clients connect to it directly)"
        )
    return int(value)


def _sqlalchemy_url(url: str) -> str:
    """A database URL with the driver SQLAlchemy should use (psycopg 3 for PostgreSQL)."""
    if url.startswith("postgres://"):  # Heroku-style URL; SQLAlchemy wants the dialect
        return "postgresql+psycopg://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def load_config(instance_path: str, environ: os._Environ | dict | None = None) -> dict:
    """Build the Flask config from environment variables, with development defaults."""
    env = os.environ if environ is None else environ
    instance = Path(instance_path)
    environment = env.get("MSCORE_ENV", "development")
    if environment not in ENVIRONMENTS:
        raise ConfigError(
            f"MSCORE_ENV={environment!r} is not one of {', '.join(ENVIRONMENTS)}: mscore refuses "
            "to start rather than guess (a production server must not start in development mode)"
        )
    is_production = environment == "production"
    database_url = _sqlalchemy_url(
        env.get("DATABASE_URL") or f"sqlite:///{instance / 'mscore.sqlite'}"
    )
    replica_url = _sqlalchemy_url(env.get("DATABASE_REPLICA_URL") or "")

    config = {
        "MSCORE_ENV": environment,
        # As Flask reads FLASK_DEBUG; production refuses to run with it (the debugger runs code)
        "DEBUG": env.get("FLASK_DEBUG", "").lower() not in ("", "0", "false", "no"),
        "SECRET_KEY": env.get("SECRET_KEY") or ("" if is_production else DEV_SECRET_KEY),
        # former SECRET_KEYs, comma-separated: what they signed (sessions, cookies, rating
        # links) is still read while SECRET_KEY signs anew (key rotation, docs/operations.md)
        "SECRET_KEY_FALLBACKS": [
            key.strip() for key in env.get("SECRET_KEY_FALLBACKS", "").split(",") if key.strip()
        ],
        "SQLALCHEMY_DATABASE_URI": database_url,
        # A read replica for the reports (reporting/source.py): Flask-SQLAlchemy's bind "replica"
        "SQLALCHEMY_BINDS": {"replica": replica_url} if replica_url else {},
        # PostgreSQL connections idle longer than this are checked before use (extensions.py)
        "DB_PING_AFTER_IDLE_SECONDS": float(env.get("DB_PING_AFTER_IDLE_SECONDS", "1")),
        "PUBLIC_BASE_URL": (
            env.get("PUBLIC_BASE_URL") or ("" if is_production else "http://127.0.0.1:5000")
        ).rstrip("/"),
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
        # Trusted proxy hops for the client's address (X-Forwarded-For); unset means 1 outside
        # production, where it must be set (0: no proxy, the header is ignored)
        "PROXY_FIX_X_FOR": _proxy_hops(env.get("PROXY_FIX_X_FOR")),
        # Per address, whatever the office: a busy centre's Wi-Fi is one address for hundreds of
        # citizens a day (docs/operations.md, "Ballot stuffing")
        "SURVEY_RATE_LIMIT": env.get("SURVEY_RATE_LIMIT", "20 per minute;1000 per day"),
        # Bursts, flagged for review (stored, left out of reports): per device (address and
        # browser) and per address, at one office
        "SURVEY_BURST_LIMIT": int(env.get("SURVEY_BURST_LIMIT", "3")),
        "SURVEY_BURST_MINUTES": int(env.get("SURVEY_BURST_MINUTES", "10")),
        "SURVEY_ADDRESS_BURST_LIMIT": int(env.get("SURVEY_ADDRESS_BURST_LIMIT", "20")),
        "SURVEY_ADDRESS_BURST_MINUTES": int(env.get("SURVEY_ADDRESS_BURST_MINUTES", "60")),
        # How long an opened form can be sent: its submission token and its CSRF token
        "SURVEY_FORM_HOURS": float(env.get("SURVEY_FORM_HOURS", "4")),
        # Rating tablets at the counters (docs/operations.md, "Kiosks at the counters"): a
        # pairing code's life; how long a kiosk's submission tokens are accepted (ratings kept
        # on the tablet while offline are sent later); its limit per kiosk, not per address;
        # its bursts (short and long window), flagged for review; the thank-you's seconds
        "KIOSK_PAIRING_MINUTES": int(env.get("KIOSK_PAIRING_MINUTES", "30")),
        "KIOSK_TOKEN_HOURS": float(env.get("KIOSK_TOKEN_HOURS", "168")),
        "KIOSK_RATE_LIMIT": env.get("KIOSK_RATE_LIMIT", "30 per minute"),
        "KIOSK_BURST_LIMIT": int(env.get("KIOSK_BURST_LIMIT", "15")),
        "KIOSK_BURST_MINUTES": int(env.get("KIOSK_BURST_MINUTES", "10")),
        "KIOSK_LONG_BURST_LIMIT": int(env.get("KIOSK_LONG_BURST_LIMIT", "60")),
        "KIOSK_LONG_BURST_MINUTES": int(env.get("KIOSK_LONG_BURST_MINUTES", "60")),
        "KIOSK_RESET_SECONDS": int(env.get("KIOSK_RESET_SECONDS", "6")),
        # A receipt's rating link stays open this many days after the dossier's return
        "RATING_LINK_RECEIPT_DAYS": int(env.get("RATING_LINK_RECEIPT_DAYS", "30")),
        # The thank-you page's next step where no office up the tree has its own
        "PROVINCE_HOTLINE": env.get("PROVINCE_HOTLINE", ""),
        "PROVINCE_COMPLAINT_ROUTE": env.get("PROVINCE_COMPLAINT_ROUTE", ""),
        "TIMEZONE": env.get("TIMEZONE", "Asia/Ho_Chi_Minh"),
        "BABEL_DEFAULT_LOCALE": "vi",
        "BABEL_DEFAULT_TIMEZONE": env.get("TIMEZONE", "Asia/Ho_Chi_Minh"),
        "LANGUAGES": ("vi", "en"),
        # a form may sit open at the counter: its CSRF token lasts as long as its submission token
        "WTF_CSRF_TIME_LIMIT": round(float(env.get("SURVEY_FORM_HOURS", "4")) * 3600),
        "MAX_CONTENT_LENGTH": 64 * 1024,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": is_production,
        "SMS_PROVIDER": env.get("SMS_PROVIDER", "console"),
        "TWILIO_ACCOUNT_SID": env.get("TWILIO_ACCOUNT_SID", ""),
        "TWILIO_AUTH_TOKEN": env.get("TWILIO_AUTH_TOKEN", ""),
        "TWILIO_MESSAGING_SERVICE_SID": env.get("TWILIO_MESSAGING_SERVICE_SID", ""),
        "TWILIO_FROM_NUMBER": env.get("TWILIO_FROM_NUMBER", ""),
        "TWILIO_API_BASE_URL": env.get("TWILIO_API_BASE_URL", ""),  # tests: the fake server
        # link: the invitation carries a personal link to the web form (Vietnam's senders take no
        # replies); reply: the survey is a conversation of replies
        "SMS_MODE": env.get("SMS_MODE", "link"),
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
        # ended periods' API texts stored in the database (reporting/kept.py): their total
        # after update-rollup's pruning (0: no store), and how long one is kept
        "REPORT_STORE_MB": float(env.get("REPORT_STORE_MB", "1024")),
        "REPORT_STORE_DAYS": int(env.get("REPORT_STORE_DAYS", "35")),
        # ended periods kept in each process's memory (reporting/kept.py, dashboard/data.py):
        # for how long (0: off), the API's texts' total, the computed reports' total offices
        "REPORT_CACHE_SECONDS": float(env.get("REPORT_CACHE_SECONDS", "600")),
        "REPORT_CACHE_MB": float(env.get("REPORT_CACHE_MB", "128")),
        "REPORT_CACHE_OFFICES": int(env.get("REPORT_CACHE_OFFICES", "50000")),
        "DASHBOARD_CACHE_SECONDS": float(env.get("DASHBOARD_CACHE_SECONDS", "600")),
        "DASHBOARD_CACHE_MB": float(env.get("DASHBOARD_CACHE_MB", "128")),
        "DASHBOARD_LIVE_SECONDS": float(env.get("DASHBOARD_LIVE_SECONDS", "60")),
        # connections a report reads its counts on at once (reporting/readers.py; 1: in turn)
        "REPORT_READERS": int(env.get("REPORT_READERS", "2")),
        # connections that fill a rollup rebuild's months of days at once (reporting/rollup_swap)
        "ROLLUP_REBUILD_WORKERS": int(env.get("ROLLUP_REBUILD_WORKERS", "2")),
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


def secret_bits(secret: str) -> float:
    """How many bits of randomness a secret shows: its length times the Shannon entropy of its
    characters (an estimate from the secret itself; repeated or few characters score low)."""
    if not secret:
        return 0.0
    counts = Counter(secret).values()
    n = len(secret)
    return n * -sum(c / n * math.log2(c / n) for c in counts)


def weak_fernet_key(key: str) -> str | None:
    """Why a Fernet key is unusable or weak (None when it is fine)."""
    try:
        raw = base64.urlsafe_b64decode(key.encode())
        if len(raw) != 32:
            raise ValueError
    except (ValueError, binascii.Error):
        return "is not a Fernet key (32 url-safe base64 bytes)"
    # 32 random bytes hold ~30 distinct values; fewer than 16 is a made-up key (all zeros, …)
    if len(set(raw)) < 16 or raw[:16] == raw[16:]:
        return "is a weak Fernet key (e.g. all zeros): make one with Fernet.generate_key()"
    return None


def _production_problems(config: dict) -> list[str]:
    problems = [f"{name} is not set" for name in PRODUCTION_SECRETS if not config.get(name)]
    secret = config.get("SECRET_KEY") or ""
    if secret == DEV_SECRET_KEY:
        problems.append("SECRET_KEY is the development value")
    elif secret and len(secret) < 32:
        problems.append("SECRET_KEY is shorter than 32 characters")
    elif secret and secret_bits(secret) < MIN_SECRET_BITS:
        problems.append("SECRET_KEY is weak (too few different characters: use a random value)")
    keys = [k.strip() for k in (config.get("PHONE_ENCRYPTION_KEY") or "").split(",")]
    for i, key in enumerate(k for k in keys if k):  # several, newest first, while rotating
        why = weak_fernet_key(key)
        if why:
            name = "PHONE_ENCRYPTION_KEY" + (f" (key {i + 1})" if len(keys) > 1 else "")
            problems.append(f"{name} {why}")
    hash_key = config.get("PHONE_HASH_KEY") or ""
    if hash_key and len(hash_key) < 32:
        problems.append("PHONE_HASH_KEY is shorter than 32 characters")
    elif hash_key and secret_bits(hash_key) < MIN_SECRET_BITS:
        problems.append("PHONE_HASH_KEY is weak (too few different characters)")
    if hash_key and hash_key == secret:
        problems.append("PHONE_HASH_KEY equals SECRET_KEY (each secret must be its own)")
    if config.get("PHONE_ENCRYPTION_KEY") and config["PHONE_ENCRYPTION_KEY"] == secret:
        problems.append("PHONE_ENCRYPTION_KEY equals SECRET_KEY (each secret must be its own)")
    base = config.get("PUBLIC_BASE_URL") or ""
    if base:
        parts = urlsplit(base)
        if parts.scheme != "https" or not parts.hostname:
            problems.append("PUBLIC_BASE_URL must be an https:// address")
    if config.get("DEBUG"):
        problems.append("FLASK_DEBUG is on (the debugger would let anyone run code)")
    if config.get("SQLALCHEMY_DATABASE_URI", "").startswith("sqlite"):
        problems.append("DATABASE_URL is not set (SQLite is for development only)")
    replica = (config.get("SQLALCHEMY_BINDS") or {}).get("replica") or ""
    if replica.startswith("sqlite"):
        problems.append("DATABASE_REPLICA_URL is SQLite (a replica of PostgreSQL is PostgreSQL)")
    elif replica and replica == config.get("SQLALCHEMY_DATABASE_URI"):
        problems.append("DATABASE_REPLICA_URL equals DATABASE_URL (unset it to read the primary)")
    if config.get("RATELIMIT_STORAGE_URI") == "memory://":
        problems.append("RATELIMIT_STORAGE_URI is not set (in-memory limits are per process)")
    if config.get("PROXY_FIX_X_FOR") is None:
        problems.append(
            "PROXY_FIX_X_FOR is not set (the number of reverse proxies in front of the app; "
            "0 when there is none)"
        )
    if config.get("SMS_PROVIDER") == "twilio" and not config.get("TWILIO_AUTH_TOKEN"):
        problems.append("TWILIO_AUTH_TOKEN is not set while SMS_PROVIDER=twilio")
    return problems


def check_production(config: dict) -> None:
    """Refuse to run in production with a missing, weak or development secret, or any setting
    that is unsafe there; the message names every problem."""
    if config.get("MSCORE_ENV") not in ENVIRONMENTS:
        raise ConfigError(f"MSCORE_ENV must be one of {', '.join(ENVIRONMENTS)}")
    if config.get("MSCORE_ENV") != "production":
        return
    problems = _production_problems(config)
    if problems:
        raise ConfigError(
            "mscore refuses to start with MSCORE_ENV=production: "
            + "; ".join(problems)
            + ". Set these environment variables (see docs/operations.md)."
        )
