"""Settings: read once from ``QZBG_*`` variables, checked at start-up.

Nothing else in the application reads the environment. ``Settings.from_env``
builds a frozen object; ``create_app`` copies it into ``app.config`` under the
``QZBG`` key and derives the few Flask settings that depend on it.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

FIELD_CIPHERS = ("aes-256-gcm", "sm4-gcm")
BLIND_INDEXES = ("hmac-sha256", "hmac-sm3")
AUDIT_HASHES = ("sha256", "sm3")


class ConfigError(RuntimeError):
    """A setting is missing or unusable; start-up stops with this one line."""


def _flag(value: str, name: str) -> bool:
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name} must be 0 or 1, not {value!r}")


def _int(value: str, name: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, not {value!r}") from None
    if not low <= number <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, not {number}")
    return number


def _limit(value: str, name: str) -> str:
    """A rate limit in flask-limiter's notation, e.g. ``20 per hour;5 per minute``."""
    from limits import parse_many

    try:
        parse_many(value)
    except ValueError:
        raise ConfigError(f"{name} must look like '20 per hour;5 per minute', not {value!r}") from None
    return value


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _choice(value: str, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}")
    return value


def _phone(value: str, name: str) -> str:
    """A phone number to show and dial (digits, spaces, +, -, parentheses), or empty."""
    value = value.strip()
    if value and not re.fullmatch(r"\+?[0-9(][0-9 ()-]{2,28}[0-9]", value):
        raise ConfigError(f"{name} must be a phone number such as 0571-88888888, not {value!r}")
    return value


# --- Notification channels (issue 9) ---
SMS_NAMES = ("SECRET_ID", "SECRET_KEY", "SDK_APP_ID", "SIGN_NAME", "TEMPLATE_ID")


def _all_or_none(get: Any, prefix: str, names: tuple[str, ...]) -> bool:
    """True when every ``QZBG_<prefix>_<name>`` is set, False when none is; a half-configured channel stops
    start-up rather than failing at its first message."""
    present = [name for name in names if get(f"{prefix}_{name}")]
    if present and len(present) != len(names):
        missing = ", ".join(f"QZBG_{prefix}_{n}" for n in names if n not in present)
        raise ConfigError(f"{missing} must be set too (or unset every QZBG_{prefix}_* variable)")
    return bool(present)


def _agentid(value: str | None) -> str | None:
    if value is not None and not value.isdigit():
        raise ConfigError("QZBG_WECOM_AGENTID must be the app's number (应用的 AgentId)")
    return value


def _smtp_url(value: str | None) -> str | None:
    """``smtp://[user:pass@]host[:port][?starttls=1]`` (STARTTLS by default) or ``smtps://...`` (implicit TLS)."""
    if value is None:
        return None
    from urllib.parse import parse_qs, urlsplit

    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ConfigError("QZBG_SMTP_URL must look like smtp://user:pass@host:587?starttls=1") from None
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError("QZBG_SMTP_URL must look like smtp://user:pass@host:587?starttls=1")
    starttls = parse_qs(parts.query).get("starttls", ["1"])[-1]
    _flag(starttls, "QZBG_SMTP_URL's starttls")
    return value


def _existing_file(value: str | None, name: str) -> Path | None:
    if value is None:
        return None
    path = Path(value)
    if not path.is_file():
        raise ConfigError(f"{name} names no readable file")
    return path


def _sms(get: Any) -> dict[str, Any]:
    if not _all_or_none(get, "SMS", SMS_NAMES):
        return {}
    endpoint = (get("SMS_ENDPOINT", "https://sms.tencentcloudapi.com") or "").rstrip("/")
    if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?", endpoint):
        raise ConfigError("QZBG_SMS_ENDPOINT must be a URL such as https://sms.tencentcloudapi.com")
    template = get("SMS_TEMPLATE_ID") or ""
    if not template.isdigit():
        raise ConfigError("QZBG_SMS_TEMPLATE_ID must be the approved template's number")
    return {
        "sms_secret_id": get("SMS_SECRET_ID"), "sms_secret_key": get("SMS_SECRET_KEY"),
        "sms_sdk_app_id": get("SMS_SDK_APP_ID"), "sms_sign_name": get("SMS_SIGN_NAME"),
        "sms_template_id": template, "sms_endpoint": endpoint,
        "sms_region": get("SMS_REGION", "ap-guangzhou") or "",
    }


# --- Keyring layout (hardening, issue 6 B.17) ---
# The keyring lives in a directory of its own (``instance/keys/``, 0700 under ``make run``), never beside the
# SQLite database or in the attachments directory: a copy of the data must not carry the key that opens it.
KEYRING_DIR = "keys"
KEYRING_FILE = "keyring.json"


def default_keyring_path(instance: Path) -> Path:
    """``instance/keys/keyring.json``; an install made before this layout keeps its ``instance/keyring.json``
    (used while the new place is empty, with a warning at start-up) so its stored data stays readable."""
    path = instance / KEYRING_DIR / KEYRING_FILE
    legacy = instance / KEYRING_FILE
    if not path.exists() and legacy.exists():
        return legacy
    return path


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every deployment setting, typed. Field names follow the variables."""

    instance_path: Path
    database_url: str
    secret_key: str
    keyring_path: Path
    field_cipher: str = "aes-256-gcm"
    blind_index: str = "hmac-sha256"
    audit_hash: str = "sha256"  # the audit chain's HMAC (app/audit/service.py): sha256 or sm3
    attachments_dir: Path = Path("instance/attachments")
    max_attachment_mb: int = 20
    exports_dir: Path = Path("instance/exports")
    export_keep_minutes: int = 60  # a finished export's sealed file waits this long to be fetched
    wechat_appid: str | None = None
    wechat_secret: str | None = None
    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_timeout: float = 5.0
    wechat_report_page: str = "pages/report/index"
    wechat_detail_page: str = "pages/report/detail"
    wechat_env_version: str = "release"
    wechat_status_template_id: str | None = None
    wecom_corpid: str | None = None
    wecom_secret: str | None = None
    wecom_agentid: str | None = None
    wecom_api_base: str = "https://qyapi.weixin.qq.com"
    smtp_url: str | None = None
    smtp_from: str | None = None
    smtp_ca_file: Path | None = None
    sms_secret_id: str | None = None
    sms_secret_key: str | None = None
    sms_sdk_app_id: str | None = None
    sms_sign_name: str | None = None
    sms_template_id: str | None = None
    sms_endpoint: str = "https://sms.tencentcloudapi.com"
    sms_region: str = "ap-guangzhou"
    notify_timeout: int = 10
    urgent_escalation_minutes: int = 30
    redis_url: str | None = None
    public_url: str = "http://127.0.0.1:5000"
    training: bool = False
    # Not in the contract's table; operational knobs with safe defaults.
    trusted_proxies: int = 0
    intake_rate_limit: str = "20 per hour;5 per minute"
    intake_ip_rate_limit: str = "200 per hour;30 per minute"
    lookup_rate_limit: str = "30 per hour;10 per minute"
    login_rate_limit: str = "60 per hour;20 per minute"
    # Per client address for practice reports, and for every per-address limit of a training deployment: a
    # training room of a few hundred trainees behind one Wi-Fi's NAT (the per-address limits above are sized for
    # a real hospital's NAT and would refuse most of the room).
    training_room_rate_limit: str = "3000 per hour;600 per minute"
    # Reports per institution's system (a hospital information system, a hotline): each key's institution counts
    # apart, under the per-address ceiling of its server.
    institution_rate_limit: str = "120 per hour;20 per minute"
    token_ttl_hours: int = 24 * 7
    # Staff side: sessions and login throttling.
    staff_idle_minutes: int = 30
    staff_session_hours: int = 12
    step_up_minutes: int = 10  # a second-factor code keeps sensitive actions open this long; 0: every one asks
    staff_login_rate_limit: str = "100 per hour;20 per minute"
    log_level: str = "INFO"
    # WeChat gateway resilience (app/clients/wechat.py): circuit breaker and per-process bulkhead.
    wechat_breaker_failures: int = 5
    wechat_breaker_cooldown: int = 30
    wechat_max_concurrent: int = 12
    # The web form (reports/routes.py): the office's phone number, shown on the receipt and the status
    # page as whom to call; empty leaves the line out.
    office_phone: str = ""
    # --- Review deadlines (review inbox, issue 8 item 5), in hours (DOMAIN.md) ---
    deadline_ack_urgent: int = 1
    deadline_ack: int = 24
    deadline_police_receipt: int = 24
    deadline_police_feedback: int = 72
    deadline_supervision_answer: int = 168
    # --- Notify worker (issue 9 B): attempts before a message is dead, its lease while being sent, the first
    # back-off (doubling, with jitter, up to an hour), and how often an idle worker looks for due messages ---
    notify_max_attempts: int = 6
    notify_lease_seconds: int = 300
    notify_retry_seconds: int = 30
    notify_poll_seconds: float = 0.25

    def per_address(self, limit: str) -> str:
        """A per-address limit as this deployment applies it: in a training deployment every one is the training
        room's (``QZBG_TRAINING_ROOM_RATE_LIMIT``); per-user and per-account limits stay as they are."""
        return self.training_room_rate_limit if self.training else limit

    @property
    def max_attachment_bytes(self) -> int:
        return self.max_attachment_mb * 1024 * 1024

    # --- Keyring layout (hardening, issue 6 B.17) ---
    def keyring_shares_directory_with(self) -> str | None:
        """``database`` or ``attachments`` when the keyring sits in the SQLite database's directory or in
        the attachments directory (or below it); None when it has a directory of its own."""
        keyring_dir = self.keyring_path.resolve().parent
        if self.database_url.startswith("sqlite:"):
            from sqlalchemy.engine import make_url

            database = make_url(self.database_url).database
            if database and database != ":memory:" and Path(database).resolve().parent == keyring_dir:
                return "database"
        if keyring_dir.is_relative_to(self.attachments_dir.resolve()):
            return "attachments"
        return None

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, instance_path: Path | None = None
    ) -> Settings:
        """Read and check the ``QZBG_*`` variables; raise ConfigError on the first bad one."""
        env = dict(os.environ if environ is None else environ)
        instance = Path(instance_path or env.get("QZBG_INSTANCE_PATH") or "instance").resolve()

        def get(name: str, default: str | None = None) -> str | None:
            value = env.get(f"QZBG_{name}")
            return value if value not in (None, "") else default

        secret = get("SECRET_KEY")
        if secret is None:
            secret_file = instance / "secret_key"
            if secret_file.is_file():
                secret = secret_file.read_text().strip()
        if not secret or len(secret) < 32:
            raise ConfigError(
                "QZBG_SECRET_KEY is missing or shorter than 32 characters "
                "(make run writes one to instance/secret_key)"
            )

        cipher = get("FIELD_CIPHER", "aes-256-gcm") or ""
        if cipher not in FIELD_CIPHERS:
            raise ConfigError(f"QZBG_FIELD_CIPHER must be one of {', '.join(FIELD_CIPHERS)}")
        blind = get("BLIND_INDEX", "hmac-sha256") or ""
        if blind not in BLIND_INDEXES:
            raise ConfigError(f"QZBG_BLIND_INDEX must be one of {', '.join(BLIND_INDEXES)}")
        # The audit chain follows the blind index's family unless told otherwise: a national-crypto deployment
        # (hmac-sm3) keys its chain with HMAC-SM3 without a second setting.
        audit_hash = _choice(get("AUDIT_HASH", "sm3" if blind == "hmac-sm3" else "sha256") or "", "QZBG_AUDIT_HASH",
                             AUDIT_HASHES)

        database_url = get("DATABASE_URL", f"sqlite:///{instance / 'qzbg.sqlite3'}") or ""
        if not database_url.startswith(("sqlite:", "postgresql")):
            raise ConfigError("QZBG_DATABASE_URL must be a sqlite:/// or postgresql+psycopg:// URL")
        if database_url.startswith("postgresql://"):
            database_url = "postgresql+psycopg://" + database_url[len("postgresql://") :]

        return cls(
            instance_path=instance,
            database_url=database_url,
            secret_key=secret,
            keyring_path=Path(get("KEYRING") or default_keyring_path(instance)),
            field_cipher=cipher,
            blind_index=blind,
            audit_hash=audit_hash,
            attachments_dir=Path(get("ATTACHMENTS_DIR", str(instance / "attachments")) or ""),
            max_attachment_mb=_int(get("MAX_ATTACHMENT_MB", "20") or "", "QZBG_MAX_ATTACHMENT_MB", 1, 500),
            exports_dir=Path(get("EXPORTS_DIR", str(instance / "exports")) or ""),
            export_keep_minutes=_int(get("EXPORT_KEEP_MINUTES", "60") or "", "QZBG_EXPORT_KEEP_MINUTES", 1, 24 * 60),
            wechat_appid=get("WECHAT_APPID"),
            wechat_secret=get("WECHAT_SECRET"),
            wechat_api_base=(get("WECHAT_API_BASE", "https://api.weixin.qq.com") or "").rstrip("/"),
            wechat_timeout=_int(get("WECHAT_TIMEOUT", "5") or "", "QZBG_WECHAT_TIMEOUT", 1, 60),
            wechat_report_page=get("WECHAT_REPORT_PAGE", cls.wechat_report_page) or "",
            wechat_detail_page=get("WECHAT_DETAIL_PAGE", cls.wechat_detail_page) or "",
            wechat_env_version=_choice(get("WECHAT_ENV_VERSION", "release") or "", "QZBG_WECHAT_ENV_VERSION",
                                       ("release", "trial", "develop")),
            wechat_status_template_id=get("WECHAT_STATUS_TEMPLATE_ID"),
            wecom_corpid=get("WECOM_CORPID") if _all_or_none(get, "WECOM", ("CORPID", "SECRET", "AGENTID"))
            else None,
            wecom_secret=get("WECOM_SECRET"),
            wecom_agentid=_agentid(get("WECOM_AGENTID")),
            wecom_api_base=(get("WECOM_API_BASE", "https://qyapi.weixin.qq.com") or "").rstrip("/"),
            smtp_url=_smtp_url(get("SMTP_URL")),
            smtp_from=get("SMTP_FROM"),
            smtp_ca_file=_existing_file(get("SMTP_CA_FILE"), "QZBG_SMTP_CA_FILE"),
            **_sms(get),
            notify_timeout=_int(get("NOTIFY_TIMEOUT", "10") or "", "QZBG_NOTIFY_TIMEOUT", 1, 120),
            urgent_escalation_minutes=_int(get("URGENT_ESCALATION_MINUTES", "30") or "",
                                           "QZBG_URGENT_ESCALATION_MINUTES", 1, 24 * 60),
            redis_url=get("REDIS_URL"),
            public_url=(get("PUBLIC_URL", "http://127.0.0.1:5000") or "").rstrip("/"),
            training=_flag(get("TRAINING", "0") or "", "QZBG_TRAINING"),
            trusted_proxies=_int(get("TRUSTED_PROXIES", "0") or "", "QZBG_TRUSTED_PROXIES", 0, 5),
            intake_rate_limit=_limit(get("INTAKE_RATE_LIMIT", cls.intake_rate_limit) or "", "QZBG_INTAKE_RATE_LIMIT"),
            intake_ip_rate_limit=_limit(
                get("INTAKE_IP_RATE_LIMIT", cls.intake_ip_rate_limit) or "", "QZBG_INTAKE_IP_RATE_LIMIT"
            ),
            lookup_rate_limit=_limit(get("LOOKUP_RATE_LIMIT", cls.lookup_rate_limit) or "", "QZBG_LOOKUP_RATE_LIMIT"),
            login_rate_limit=_limit(get("LOGIN_RATE_LIMIT", cls.login_rate_limit) or "", "QZBG_LOGIN_RATE_LIMIT"),
            training_room_rate_limit=_limit(get("TRAINING_ROOM_RATE_LIMIT", cls.training_room_rate_limit) or "",
                                            "QZBG_TRAINING_ROOM_RATE_LIMIT"),
            institution_rate_limit=_limit(get("INSTITUTION_RATE_LIMIT", cls.institution_rate_limit) or "",
                                          "QZBG_INSTITUTION_RATE_LIMIT"),
            token_ttl_hours=_int(get("TOKEN_TTL_HOURS", "168") or "", "QZBG_TOKEN_TTL_HOURS", 1, 24 * 90),
            # Staff side.
            staff_idle_minutes=_int(get("STAFF_IDLE_MINUTES", "30") or "", "QZBG_STAFF_IDLE_MINUTES", 1, 24 * 60),
            staff_session_hours=_int(get("STAFF_SESSION_HOURS", "12") or "", "QZBG_STAFF_SESSION_HOURS", 1, 72),
            step_up_minutes=_int(get("STEP_UP_MINUTES", "10") or "", "QZBG_STEP_UP_MINUTES", 0, 240),
            staff_login_rate_limit=_limit(
                get("STAFF_LOGIN_RATE_LIMIT", cls.staff_login_rate_limit) or "", "QZBG_STAFF_LOGIN_RATE_LIMIT"
            ),
            log_level=_choice((get("LOG_LEVEL", "INFO") or "").upper(), "QZBG_LOG_LEVEL", LOG_LEVELS),
            # WeChat gateway resilience. The bulkhead defaults to gunicorn's threads per worker less four
            # (QZBG_THREADS, default 16, read by gunicorn.conf.py too): a hanging WeChat never holds them all.
            wechat_breaker_failures=_int(get("WECHAT_BREAKER_FAILURES", "5") or "", "QZBG_WECHAT_BREAKER_FAILURES",
                                         1, 100),
            wechat_breaker_cooldown=_int(get("WECHAT_BREAKER_COOLDOWN", "30") or "", "QZBG_WECHAT_BREAKER_COOLDOWN",
                                         1, 3600),
            wechat_max_concurrent=_int(
                get("WECHAT_MAX_CONCURRENT", str(max(1, _int(get("THREADS", "16") or "", "QZBG_THREADS", 1, 64) - 4)))
                or "", "QZBG_WECHAT_MAX_CONCURRENT", 1, 64,
            ),
            # The web form.
            office_phone=_phone(get("OFFICE_PHONE", "") or "", "QZBG_OFFICE_PHONE"),
            # --- Review deadlines (review inbox, issue 8 item 5), in hours ---
            deadline_ack_urgent=_int(get("DEADLINE_ACK_URGENT", "1") or "", "QZBG_DEADLINE_ACK_URGENT", 1, 24 * 30),
            deadline_ack=_int(get("DEADLINE_ACK", "24") or "", "QZBG_DEADLINE_ACK", 1, 24 * 30),
            deadline_police_receipt=_int(get("DEADLINE_POLICE_RECEIPT", "24") or "", "QZBG_DEADLINE_POLICE_RECEIPT",
                                         1, 24 * 30),
            deadline_police_feedback=_int(get("DEADLINE_POLICE_FEEDBACK", "72") or "",
                                          "QZBG_DEADLINE_POLICE_FEEDBACK", 1, 24 * 90),
            deadline_supervision_answer=_int(get("DEADLINE_SUPERVISION_ANSWER", "168") or "",
                                             "QZBG_DEADLINE_SUPERVISION_ANSWER", 1, 24 * 90),
            # --- Notify worker (issue 9 B) ---
            notify_max_attempts=_int(get("NOTIFY_MAX_ATTEMPTS", "6") or "", "QZBG_NOTIFY_MAX_ATTEMPTS", 1, 50),
            notify_lease_seconds=_int(get("NOTIFY_LEASE_SECONDS", "300") or "", "QZBG_NOTIFY_LEASE_SECONDS", 1, 3600),
            notify_retry_seconds=_int(get("NOTIFY_RETRY_SECONDS", "30") or "", "QZBG_NOTIFY_RETRY_SECONDS", 1, 3600),
            notify_poll_seconds=_int(get("NOTIFY_POLL_MS", "250") or "", "QZBG_NOTIFY_POLL_MS", 50, 60_000) / 1000,
        )

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)
