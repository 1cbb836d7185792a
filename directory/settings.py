"""Django settings for Roster, read from environment variables.

Development needs no configuration: SQLite and a filesystem message broker under ``var/``, and a
secret key generated there on first use. Production (``ROSTER_ENV=production``) requires the secrets
and servers to be named, and turns on every protection ``manage.py check --deploy`` looks for.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("ROSTER_VAR_DIR", BASE_DIR / "var")).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)

ENVIRONMENT = os.environ.get("ROSTER_ENV", "development")
if ENVIRONMENT not in ("development", "production"):
    raise ImproperlyConfigured("ROSTER_ENV must be 'development' or 'production'.")
PRODUCTION = ENVIRONMENT == "production"


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}.")


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def development_secret_key() -> str:
    """A key kept in var/ so that sessions survive restarts; never used in production."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = os.environ.get("SECRET_KEY") or ""
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY is required when ROSTER_ENV=production.")
    SECRET_KEY = development_secret_key()

DEBUG = env_bool("DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "localhost,127.0.0.1,[::1],testserver")
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS is required when ROSTER_ENV=production.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",  # before directory, whose admin replaces axes' AccessAttempt admin
    "csp",
    "rest_framework",
    "django_filters",
    "django_celery_beat",
    "directory",
    "scim_api",
    "lifecycle",
]

MIDDLEWARE = [
    # One log record per request, whatever answered it, with its request id and caller
    # (directory/request_log.py).
    "directory.request_log.RequestLogMiddleware",
    # /scim/'s request log, per-day counts and metrics: outside the error middleware, so that it
    # sees every answer as sent, a 500 included (scim_api/traffic.py).
    "scim_api.traffic.ScimTrafficMiddleware",
    "scim_api.middleware.ScimErrorMiddleware",  # it answers for everything under /scim/
    "django.middleware.security.SecurityMiddleware",
    "directory.nul_guard.NulGuardMiddleware",  # a NUL in a page's query string: 400, not a 500
    "directory.csp.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # HR reviewers reach /hr/ only; there, idle sessions expire and dates are the reviewer's.
    "lifecycle.hr.access.ReviewerMiddleware",
    # Last, as django-axes requires: it turns a login refused for a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "directory.urls"
WSGI_APPLICATION = "directory.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "lifecycle.context_processors.open_bursts",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
# DATABASE_URL: postgres://user:password@host:5432/name in production; a SQLite file by default.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'roster.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if os.environ.get("DATABASE_NAME"):
    # Overrides the name in DATABASE_URL; the tests use it to point workers at the test database.
    DATABASES["default"]["NAME"] = os.environ["DATABASE_NAME"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the web process read while the worker writes; the timeout waits out a writer
        # instead of failing with "database is locked".
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # Tests need a file, not :memory:, so that a Celery worker process sees the same database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test_roster.sqlite3")}
elif os.environ.get("DATABASE_TEST_NAME"):
    DATABASES["default"]["TEST"] = {"NAME": os.environ["DATABASE_TEST_NAME"]}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool(
    "DATABASE_PREPARED_STATEMENTS", default=True
):
    # Parameters sent apart from the SQL, and a statement run five times on a connection
    # prepared there: PostgreSQL then plans it once, not on every request (planning a user read
    # with its subqueries takes five times as long as running it). Turn off behind a pooler that
    # cannot keep prepared statements (PgBouncer in transaction mode before 1.21).
    DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (rate limits, token last-use stamps): shared by every web process --------------------
CACHE_URL = os.environ.get("CACHE_URL", "")
if CACHE_URL.startswith(("redis://", "rediss://")):
    CACHES = {"default": {"BACKEND": "directory.db.cache.RedisCache", "LOCATION": CACHE_URL}}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Celery ---------------------------------------------------------------------------------------
# CELERY_BROKER_URL: redis://... or amqp://... in production. The default is kombu's filesystem
# transport, so development needs no broker server.
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "filesystem://localhost/"
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # Where the transport keeps its exchange -> queue bindings (celery.exchange): by default
        # "control", relative to whatever directory a process was started in, the repository's.
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
    # The filesystem transport has no fanout exchanges, which remote control needs.
    CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
# Tasks record their outcome in the database; nobody waits on a result backend.
CELERY_TASK_IGNORE_RESULT = True
# A task is acknowledged only after it ran, so a worker killed mid-task hands it to another
# worker instead of losing it. Every task is written to be safe to run twice.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Beat reads its schedule from the database (django-celery-beat), where administrators change it in
# the admin (Periodic tasks). Migration directory 0021 installs the defaults once: "worker-heartbeat"
# every 60 s and "lifecycle-sweep" (deletions and purges due, and offboarding steps a lost message or
# a dead worker left behind) every 300 s. There is no CELERY_BEAT_SCHEDULE: beat would write it over
# the administrators' changes each time it starts.
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# A broker that cannot be reached when a task is sent must not hold the request that sends it (the
# sweep sends again what was lost): a few quick tries, then the error is logged.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_BROKER_CONNECTION_TIMEOUT = 2

# --- Lifecycle (offboarding) -------------------------------------------------------------------------
# A step claimed by a worker and not finished within this long is taken for abandoned (the worker
# died) and run again by the sweep; steps are retried after 30 s, 60 s, 120 s, ... (at most 1 h).
LIFECYCLE_STEP_LEASE_SECONDS = int(os.environ.get("LIFECYCLE_STEP_LEASE_SECONDS", "300"))
LIFECYCLE_STEP_BACKOFF_SECONDS = int(os.environ.get("LIFECYCLE_STEP_BACKOFF_SECONDS", "30"))
# Workers that share a sweep with many due cases (the sweep sends this many minus one helpers).
LIFECYCLE_SWEEP_WORKERS = int(os.environ.get("LIFECYCLE_SWEEP_WORKERS", "2"))
# Offboarding steps of the deployment's own, by dotted path (module:function), after Roster's: the
# same as lifecycle.steps.register() from an AppConfig, for a host that configures rather than codes.
LIFECYCLE_STEPS = [path for path in os.environ.get("LIFECYCLE_STEPS", "").split(",") if path.strip()]
CELERY_TIMEZONE = "UTC"

# --- The audit trail's hash chain (directory/services/audit_chain.py) ------------------------------
# The key of its HMAC links. Default: derived from SECRET_KEY; set it on its own in production, so
# that rotating SECRET_KEY leaves the chain verifiable (a chain verifies only with the key it was
# sealed with).
AUDIT_CHAIN_KEY = os.environ.get("AUDIT_CHAIN_KEY", "")

# --- Outbound webhooks (directory/outbound.py) -----------------------------------------------------
# Endpoints are called over https only in production, never on this host or the server's private
# networks unless allowed here (SSRF), within these timeouts and deadline.
WEBHOOK_ALLOW_HTTP = env_bool("WEBHOOK_ALLOW_HTTP", default=not PRODUCTION)
WEBHOOK_ALLOW_LOOPBACK = env_bool("WEBHOOK_ALLOW_LOOPBACK", default=False)
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env_bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", default=False)
WEBHOOK_CONNECT_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_CONNECT_TIMEOUT_SECONDS", "5"))
WEBHOOK_READ_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_READ_TIMEOUT_SECONDS", "15"))
WEBHOOK_DEADLINE_SECONDS = float(os.environ.get("WEBHOOK_DEADLINE_SECONDS", "30"))
# Events (GET /api/events, webhooks, directory.services.events) and delivery attempts are kept
# EVENTS_RETENTION_DAYS (pruned daily by the periodic task "events-prune").
EVENTS_RETENTION_DAYS = int(os.environ.get("EVENTS_RETENTION_DAYS", "90"))
if EVENTS_RETENTION_DAYS < 1:
    raise ImproperlyConfigured("EVENTS_RETENTION_DAYS must be at least 1.")
# Delivery (directory/services/webhooks.py): the waits between an endpoint's failed attempts, in
# seconds (default Standard Webhooks' schedule over 3 days; the last repeats until it has failed for
# WEBHOOK_DISABLE_AFTER_HOURS, then it is disabled), and how long a worker's hold on an endpoint
# outlives the worker (a killed worker's endpoint is taken over after it).
WEBHOOK_RETRY_SCHEDULE = [
    float(s)
    for s in os.environ.get("WEBHOOK_RETRY_SCHEDULE", "5,300,1800,7200,18000,36000,50400,72000,86400").split(
        ","
    )
]
WEBHOOK_DISABLE_AFTER_HOURS = float(os.environ.get("WEBHOOK_DISABLE_AFTER_HOURS", "120"))
WEBHOOK_LEASE_SECONDS = float(os.environ.get("WEBHOOK_LEASE_SECONDS", "60"))

# --- The HR screen (/hr/) -------------------------------------------------------------------------
# A reviewer's session ends after this many minutes without a request (renewed by each request).
HR_SESSION_IDLE_MINUTES = int(os.environ.get("HR_SESSION_IDLE_MINUTES", "30"))
if HR_SESSION_IDLE_MINUTES < 1:
    raise ImproperlyConfigured("HR_SESSION_IDLE_MINUTES must be at least 1.")

# --- Email --------------------------------------------------------------------------------------------
# The offboarding steps' messages (notify the manager) and the burst guard's alerts. Development
# writes them to the console; production sets EMAIL_URL-style settings of its own (README).
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND") or "django.core.mail.backends.console.EmailBackend"
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("EMAIL_USE_TLS", "").lower() in ("1", "true", "yes")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "roster@localhost")
# Seconds an SMTP connection may take: review notices are sent with their cases locked, so a mail
# server that hangs must not hold them (the send fails, and the sweep sends again).
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "10"))
# Where administrators reach Roster, for the links in its emails (a burst's alert).
ROSTER_BASE_URL = os.environ.get("ROSTER_BASE_URL", "http://127.0.0.1:8000")

# --- Auth, i18n, static -----------------------------------------------------------------------------
# directory/passwords.py: Argon2id at OWASP's minimum cost; older hashes still verify.
PASSWORD_HASHERS = [
    "directory.passwords.Argon2idPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"
# django-axes first: it refuses a locked-out login before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# --- Admin login: brute-force lockout (django-axes; audited by directory/lockouts.py) ------------
# A login is refused once AXES_FAILURE_LIMIT failures were counted within the cool-off, either for
# the username (from any address: guessing one admin's password from many addresses is stopped)
# or from the client's address (for any usernames: one address spraying passwords over all the
# admins is stopped, and can lock out at most one admin per cool-off). The price: someone who
# knows an admin's username can lock it out for a cool-off; `manage.py axes_reset_username` lifts
# it (README). Attempts while locked are refused without being counted, so neither the attacker
# nor the locked-out admin retrying lengthens the lockout: it ends one cool-off after the failure
# that caused it. Bearer tokens (SCIM) never go through authenticate(), so axes never sees them.
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES", "15")))
if AXES_FAILURE_LIMIT < 1 or AXES_COOLOFF_TIME.total_seconds() <= 0:
    # 0 would lock every login (or, as a cool-off, none): neither is a setting anyone means.
    raise ImproperlyConfigured("AXES_FAILURE_LIMIT and AXES_COOLOFF_MINUTES must be at least 1.")
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "directory.lockouts.lockout_response"
# The client's address: REMOTE_ADDR unless told which header a proxy in front sets. Behind a proxy
# every client would otherwise share the proxy's address, and one guesser lock out everybody.
AXES_IPWARE_META_PRECEDENCE_ORDER = env_list("AXES_IPWARE_META_PRECEDENCE_ORDER", "REMOTE_ADDR")
if os.environ.get("AXES_IPWARE_PROXY_COUNT"):
    AXES_IPWARE_PROXY_COUNT = int(os.environ["AXES_IPWARE_PROXY_COUNT"])

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns on every request while it is missing
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Production hardening: what `manage.py check --deploy` asks for --------------------------------
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    # Prometheus scrapes a web process directly, over loopback and plain HTTP (directory/metrics.py):
    # a redirect would only fail it (a bearer token sent that way was sent before any redirect).
    SECURE_REDIRECT_EXEMPT = [r"^metrics$"]
    if env_bool("SECURE_PROXY_SSL_HEADER", default=False):
        # Behind a TLS-terminating proxy that sets X-Forwarded-Proto (and strips it from clients).
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# --- Content-Security-Policy (django-csp) on every page: the admin and the HR pages -------------
# Enforced, not report-only: Django 5.2's admin runs with no inline script or style (its scripts
# take their data from data- attributes, and Roster's pages do the same), so a page that needs
# more is a bug to fix, not a violation to report. Nothing loads from another origin. SCIM answers
# JSON that no browser renders as a document: it is left out (directory/csp.py).
CONTENT_SECURITY_POLICY = {
    "EXCLUDE_URL_PREFIXES": ["/scim/"],
    "DIRECTIVES": {
        "default-src": ["'none'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
    },
}

# --- Django REST Framework ------------------------------------------------------------------------
REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
}

# LOG_FORMAT: "text" (default) or "json" (one JSON object a line: time, level, logger, message and
# the record's fields; roster.requests writes one per request: directory/request_log.py).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text")
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured("LOG_FORMAT must be 'text' or 'json'.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # axes says INFO for every login attempt; its WARNINGs (failures, lockouts) are the news.
        "axes": {"level": "WARNING"},
    },
}

# --- SCIM -----------------------------------------------------------------------------------------
SCIM_MAX_PAYLOAD_BYTES = int(os.environ.get("SCIM_MAX_PAYLOAD_BYTES", str(1024 * 1024)))
SCIM_MAX_PAGE_SIZE = int(os.environ.get("SCIM_MAX_PAGE_SIZE", "1000"))
SCIM_DEFAULT_PAGE_SIZE = int(os.environ.get("SCIM_DEFAULT_PAGE_SIZE", "100"))
# Seconds an RFC 9865 cursor stays valid (cursorTimeout in ServiceProviderConfig).
SCIM_CURSOR_TIMEOUT = int(os.environ.get("SCIM_CURSOR_TIMEOUT", "3600"))
# Seconds a thread keeps a SCIM token it has found (PostgreSQL only; every change to a token or
# tenant empties the caches before their next request: directory/db/token_cache.py). 0 reads the token
# on every request.
SCIM_TOKEN_CACHE_SECONDS = int(os.environ.get("SCIM_TOKEN_CACHE_SECONDS", "60"))
# Requests per minute per token; 0 turns the limit off.
SCIM_RATE_LIMIT_PER_MINUTE = int(os.environ.get("SCIM_RATE_LIMIT_PER_MINUTE", "6000"))
# POST /Bulk (RFC 7644 section 3.7.4): operations per request, and its own body limit (a bulk
# carries many resources, so it is larger than SCIM_MAX_PAYLOAD_BYTES). 413 beyond either.
SCIM_BULK_MAX_OPERATIONS = int(os.environ.get("SCIM_BULK_MAX_OPERATIONS", "1000"))
SCIM_BULK_MAX_PAYLOAD_BYTES = int(os.environ.get("SCIM_BULK_MAX_PAYLOAD_BYTES", str(8 * 1024 * 1024)))

# --- The SCIM request log and /metrics ------------------------------------------------------------
# Every SCIM write and every failed request, with its redacted body, kept SCIM_REQUEST_LOG_DAYS
# (pruned hourly by the periodic task "scim-request-log-prune"); successful reads are only counted,
# per token and day. Each process keeps its rows and counts and writes them at most every
# SCIM_REQUEST_LOG_FLUSH_SECONDS, and at its exit (directory/request_buffer.py).
SCIM_REQUEST_LOG = env_bool("SCIM_REQUEST_LOG", default=True)
SCIM_REQUEST_LOG_DAYS = int(os.environ.get("SCIM_REQUEST_LOG_DAYS", "30"))
SCIM_REQUEST_LOG_FLUSH_SECONDS = float(os.environ.get("SCIM_REQUEST_LOG_FLUSH_SECONDS", "5"))
if SCIM_REQUEST_LOG_DAYS < 1 or SCIM_REQUEST_LOG_FLUSH_SECONDS < 0:
    raise ImproperlyConfigured(
        "SCIM_REQUEST_LOG_DAYS must be at least 1 and SCIM_REQUEST_LOG_FLUSH_SECONDS at least 0."
    )
# /metrics (Prometheus; directory/metrics.py). With METRICS_TOKEN it asks for
# "Authorization: Bearer <METRICS_TOKEN>"; without, it answers loopback addresses only.
METRICS_ENABLED = env_bool("METRICS_ENABLED", default=True)
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
if METRICS_ENABLED:
    # prometheus-client's multiprocess mode: each process (gunicorn's and Celery's workers) writes
    # its samples to files here, and a scrape of any web process sums them all. Set before
    # prometheus_client is imported (it picks its storage then); empty it when the service starts.
    METRICS_DIR = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or VAR_DIR / "metrics")
    METRICS_DIR.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(METRICS_DIR)
