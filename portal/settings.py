"""Portal settings. Every environment variable is read once, here (see ../shared/contract.md §2).

Development (`make demo`) runs with no servers at all: SQLite under var/, kombu's filesystem broker and
Django's database cache. Production and the test suite set DATABASE_URL and REDIS_URL.
"""
from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PORTAL_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


#
# Core
#
DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off.")
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "portal",
    "accounts",
    "ncm_sync",
    "devices",
    "webhooks",
    "jobs",
    "history",
    "ui",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "portal.middleware.RequestIdMiddleware",
    "portal.audit.AuditSourceMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "portal.logcontext.LogContextMiddleware",  # user and tenant on the request's log records
    "django_otp.middleware.OTPMiddleware",
    # Two-factor sign-in: users who must verify a TOTP code reach nothing else until they have (ui/twofactor.py).
    "ui.twofactor.TwoFactorEnforcementMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "portal.middleware.ApiJsonErrorMiddleware",
    # Axes must be last so it sees the outcome of every authentication attempt.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

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
            ],
        },
    },
]

#
# Database
#
VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite is for the zero-setup demo only: wait for the lock instead of failing under web+worker+beat.
    DATABASES["default"]["OPTIONS"] = {"timeout": 30}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
# DATABASE_POOLER=pgbouncer: PostgreSQL reached through PgBouncer in transaction pooling (docs/operations.md). A
# server-side cursor (CSV exports' iterator()) or a prepared statement would outlive the transaction that made it.
if os.environ.get("DATABASE_POOLER", "").lower() == "pgbouncer":
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = None
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # No JIT: the overview's per-tenant counts look expensive to the planner once the mirror is large, and
    # compiling them took 2.6 s of a 2.7 s query at 100k routers (for an MSP of 1k). Short OLTP queries never
    # gain from it. Through PgBouncer (which refuses this startup option) set `jit = off` on the database.
    # libpq's `options` replaces PGOPTIONS: keep what the environment asks for (e.g. a lock_timeout) beside it.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = f"{os.environ.get('PGOPTIONS', '')} -c jit=off".strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

#
# Cache, locks and rate budgets: one code path (Django's cache API) on Redis or, for the demo, the database.
#
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("PORTAL_CACHE_PREFIX", "portal"),
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "portal_cache",
        }
    }

#
# Auth, passwords, login protection
#
AUTHENTICATION_BACKENDS = [
    # Axes first: it refuses locked-out (username, IP) pairs before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Lock a (username, IP) pair, not a whole MSP behind one NAT; cool off instead of locking forever.
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False

#
# Secrets at rest: NCM credentials are encrypted with MultiFernet; the first key encrypts, all decrypt.
#
PORTAL_ENCRYPTION_KEYS = env_list("PORTAL_ENCRYPTION_KEYS")
if not PORTAL_ENCRYPTION_KEYS:
    raise ImproperlyConfigured(
        "PORTAL_ENCRYPTION_KEYS is not set. Generate a key with "
        "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'` "
        "and set PORTAL_ENCRYPTION_KEYS to it (comma-separate several keys to rotate)."
    )
# Validated (and a malformed key reported by position, never echoed) in portal.crypto at start-up.

# Credential base URLs a tenant may point at (server-side request forgery guard).
NCM_DEFAULT_BASE_URL = "https://www.cradlepointecm.com/api/v2"
NCM_ALLOWED_BASE_URLS = env_list(
    "NCM_ALLOWED_BASE_URLS",
    "https://www.cradlepointecm.com/api/v2,https://cradlepointecm.com/api/v2"
    + (",http://127.0.0.1:,http://localhost:" if DEBUG else ""),
)
# IgniteNet ecCloud (shared/seeds/003): one API key per cloud; 200 requests per 10 s per source address, so one
# budget per ecCloud host shared by every credential and worker; 502/503 retried no sooner than 60 s, at most 10
# times; 500 once after 60 s; 30 s timeouts. Tests shorten the waits.
ECCLOUD_DEFAULT_BASE_URL = "https://cloud.ignitenet.com/pub/v1"
ECCLOUD_ALLOWED_BASE_URLS = env_list(
    "ECCLOUD_ALLOWED_BASE_URLS",
    ECCLOUD_DEFAULT_BASE_URL + (",http://127.0.0.1:,http://localhost:" if DEBUG else ""),
)
ECCLOUD_TIMEOUT = float(os.environ.get("ECCLOUD_TIMEOUT", "30"))
ECCLOUD_RATE_LIMIT = int(os.environ.get("ECCLOUD_RATE_LIMIT", "200"))
ECCLOUD_RATE_WINDOW_SECONDS = float(os.environ.get("ECCLOUD_RATE_WINDOW_SECONDS", "10"))
ECCLOUD_RETRY_SECONDS = float(os.environ.get("ECCLOUD_RETRY_SECONDS", "60"))
ECCLOUD_MAX_RETRIES = int(os.environ.get("ECCLOUD_MAX_RETRIES", "10"))
# A sync meeting the weekly maintenance (503) fails after this many retries instead of holding a worker 10 minutes.
ECCLOUD_SYNC_MAX_RETRIES = int(os.environ.get("ECCLOUD_SYNC_MAX_RETRIES", "2"))
# How long a config push waits for the device's config task (unfinishedTaskCount) to finish, polling every N s.
ECCLOUD_TASK_TIMEOUT_SECONDS = float(os.environ.get("ECCLOUD_TASK_TIMEOUT_SECONDS", "900"))
ECCLOUD_TASK_POLL_SECONDS = float(os.environ.get("ECCLOUD_TASK_POLL_SECONDS", "15"))
WEBHOOK_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", False)

# NCM client behaviour.
NCM_CONNECT_TIMEOUT = float(os.environ.get("NCM_CONNECT_TIMEOUT", "5"))
NCM_READ_TIMEOUT = float(os.environ.get("NCM_READ_TIMEOUT", "30"))
NCM_RATE_LIMIT_PER_MINUTE = int(os.environ.get("NCM_RATE_LIMIT_PER_MINUTE", "500"))
# Scheduled syncs are light between full ones (docs/sync-performance.md): routers and modem metrics are listed by
# NCM's "changed after" filters, configuration managers are left out (the pages that show them fetch a stale
# router's on demand). A scheduled sync is full when the last full one is older than NCM_FULL_SYNC_MINUTES;
# every requested sync is full. 0 makes every sync full. The change cursors overlap by NCM_CHANGE_OVERLAP_SECONDS.
NCM_FULL_SYNC_MINUTES = int(os.environ.get("NCM_FULL_SYNC_MINUTES", "60"))
NCM_CHANGE_OVERLAP_SECONDS = int(os.environ.get("NCM_CHANGE_OVERLAP_SECONDS", "300"))
# Jobs: drainer tasks per job, and job items in flight per tenant across all workers.
JOBS_PARALLEL_PER_JOB = int(os.environ.get("JOBS_PARALLEL_PER_JOB", "4"))
JOBS_MAX_IN_FLIGHT_PER_TENANT = int(os.environ.get("JOBS_MAX_IN_FLIGHT_PER_TENANT", "8"))
# After this long a dispatched item whose worker vanished is marked unknown (default: NCM timeouts + 30 s).
JOBS_DISPATCH_LEASE_SECONDS = float(os.environ.get("JOBS_DISPATCH_LEASE_SECONDS", "0")) or None
# Heartbeats: live work beats every *_HEARTBEAT_SECONDS; work silent for *_HEARTBEAT_TIMEOUT_SECONDS lost its
# worker (SIGKILL, OOM) and is failed or resumed by the sweeps, whatever the task time limits.
SYNC_HEARTBEAT_SECONDS = float(os.environ.get("SYNC_HEARTBEAT_SECONDS", "10"))
SYNC_HEARTBEAT_TIMEOUT_SECONDS = float(os.environ.get("SYNC_HEARTBEAT_TIMEOUT_SECONDS", "60"))
# A run still queued this long has its task sent again (its message may sit with a killed worker), backing off.
SYNC_QUEUED_RESEND_SECONDS = float(os.environ.get("SYNC_QUEUED_RESEND_SECONDS", "120"))
JOBS_HEARTBEAT_SECONDS = float(os.environ.get("JOBS_HEARTBEAT_SECONDS", "10"))
JOBS_HEARTBEAT_TIMEOUT_SECONDS = float(os.environ.get("JOBS_HEARTBEAT_TIMEOUT_SECONDS", "60"))
# A pending job whose start task has not started it after this long is started by the sweep.
JOBS_START_GRACE_SECONDS = float(os.environ.get("JOBS_START_GRACE_SECONDS", "30"))
# Retries of a start task that failed on the database, before the sweep takes over.
JOBS_START_RETRIES = int(os.environ.get("JOBS_START_RETRIES", "3"))
# The sync dispatcher (and dead-run sweep) period; /readyz reports it stale after SYNC_DISPATCHER_STALE_SECONDS.
SYNC_DISPATCH_INTERVAL_SECONDS = float(os.environ.get("SYNC_DISPATCH_INTERVAL_SECONDS", "30"))
SYNC_DISPATCHER_STALE_SECONDS = float(os.environ.get("SYNC_DISPATCHER_STALE_SECONDS", "300"))
# Facts /readyz reports besides its database and broker checks (name -> dotted callable returning a dict).
READYZ_REPORTS = {"sync_dispatcher": "ncm_sync.services.runs.dispatcher_status"}
# /metrics (Prometheus text) answers only `Authorization: Bearer $PORTAL_METRICS_TOKEN` (404 otherwise, or when unset).
PORTAL_METRICS_TOKEN = os.environ.get("PORTAL_METRICS_TOKEN", "")
# Each app's figures for /metrics (portal/metrics.py): dotted callables yielding metric families.
METRICS_COLLECTORS = ["ncm_sync.metrics.collect", "jobs.metrics.collect", "webhooks.metrics.collect",
                      "portal.metrics.celery_queues"]

#
# Internationalisation
#
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

#
# Static files: served by whitenoise, never from a CDN.
#
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

#
# Security (manage.py check --deploy is clean with DJANGO_DEBUG=0)
#
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

#
# REST API
#
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiTokenAuthentication",
        # No HTTP Basic: tokens are the integrator's credential, and a password alone must never pass
        # two-factor sign-in. Sessions count only once verified.
        "accounts.authentication.VerifiedSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "portal.api.pagination.StrictLimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
        "portal.api.filters.SearchFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["portal.api.throttling.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"token": os.environ.get("API_THROTTLE_RATE", "6000/min")},
    "EXCEPTION_HANDLER": "portal.api.exceptions.json_exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "portal.api.renderers.FastJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "NCM MSP Portal API",
    "DESCRIPTION": "Multi-tenant management of Cradlepoint NetCloud Manager accounts. "
    "Authenticate with `Authorization: Token <token>` (see `manage.py create_api_token`).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # drf-spectacular's enum hook, then ours: time fields and errors (portal/api/schema.py), the NCM alert push
    # receiver (webhooks/api/schema.py).
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "portal.api.schema.postprocess",
                            "webhooks.api.schema.document_alert_push"],
    # One name per choice set, so fields called "status" on different resources don't collide.
    "ENUM_NAME_OVERRIDES": {
        "WebhookEventEnum": "webhooks.models.Event",
        "JobStatusEnum": "jobs.models.JobStatus",
        "JobItemStatusEnum": "jobs.models.ItemStatus",
        "SyncRunStatusEnum": "ncm_sync.models.SyncRunStatus",
        "TenantSyncStatusEnum": "accounts.models.SyncStatus",
        "WebhookDeliveryStatusEnum": "webhooks.models.DeliveryStatus",
    },
}

#
# Celery. Broker is Redis in production; kombu's filesystem transport for the zero-setup demo.
#
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    # https://docs.celeryq.dev/en/stable/getting-started/backends-and-brokers/redis.html#visibility-timeout
    # Above the longest hard time limit so a running task is never redelivered while it still runs.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
    CELERY_RESULT_BACKEND = REDIS_URL
else:
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("out", "processed"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "data_folder_processed": str(_broker_dir / "processed"),
        # kombu's exchange tables, else a `control/` folder in whatever directory a process starts in.
        "control_folder": str(_broker_dir / "control"),
    }
    CELERY_RESULT_BACKEND = None
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-serializer — JSON only, never pickle.
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# Results users see live in our own models (SyncRun, Job); Celery's result store is for chords only.
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_EXPIRES = 3600
# https://docs.celeryq.dev/en/stable/userguide/optimizing.html#reserve-one-task-at-a-time
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Soft limit for clean-up, hard limit below the visibility timeout.
CELERY_TASK_SOFT_TIME_LIMIT = 1500
CELERY_TASK_TIME_LIMIT = 1800
CELERY_TASK_DEFAULT_QUEUE = "celery"
# Queues are chosen here only (beat entries and apply_async calls name none).
CELERY_TASK_ROUTES = {
    "ncm_sync.tasks.sync_*": {"queue": "sync"},
    # Short periodic sweeps never wait behind a backlog of syncs or job drainers.
    "ncm_sync.tasks.dispatch_due_syncs": {"queue": "interactive"},
    "jobs.tasks.resume_stalled_jobs_task": {"queue": "interactive"},
    "jobs.tasks.*": {"queue": "bulk"},
    "history.tasks.collect_due_history": {"queue": "interactive"},
    "history.tasks.collect_router_task": {"queue": "interactive"},
    "history.tasks.*": {"queue": "bulk"},
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Every beat entry, declared here and nowhere else: the DatabaseScheduler installs them in its tables when beat
# starts (`migrate` + one `celery -A portal beat` is all a portal needs). Exactly one beat runs.
# Retention (portal/retention.py), in days; 0 keeps forever. Audit events longest (they answer "who did what").
RETENTION_DAYS = {
    kind: int(os.environ.get(f"RETENTION_{kind.upper()}_DAYS", default))
    for kind, default in (("sync_runs", 30), ("jobs", 180), ("webhook_deliveries", 30), ("audit_events", 730))
}
RETENTION_BATCH_SIZE = 1000
# History (docs/history.md): raw samples 30 days, hourly/daily roll-ups 13 months; 0 keeps forever.
HISTORY_RAW_RETENTION_DAYS = int(os.environ.get("HISTORY_RAW_RETENTION_DAYS", "30"))
HISTORY_ROLLUP_RETENTION_DAYS = int(os.environ.get("HISTORY_ROLLUP_RETENTION_DAYS", "395"))  # daily roll-ups
HISTORY_HOURLY_ROLLUP_RETENTION_DAYS = int(os.environ.get("HISTORY_HOURLY_ROLLUP_RETENTION_DAYS", "92"))
HISTORY_COLLECT_INTERVAL_SECONDS = float(os.environ.get("HISTORY_COLLECT_INTERVAL_SECONDS", "3600"))
HISTORY_INITIAL_DAYS = float(os.environ.get("HISTORY_INITIAL_DAYS", "1"))  # a new device's first collection
HISTORY_ON_DEMAND_DAYS = float(os.environ.get("HISTORY_ON_DEMAND_DAYS", "7"))  # a router page's range
HISTORY_ON_DEMAND_TTL_SECONDS = int(os.environ.get("HISTORY_ON_DEMAND_TTL_SECONDS", "900"))
HISTORY_LICENCE_WARN_DAYS = int(os.environ.get("HISTORY_LICENCE_WARN_DAYS", "30"))  # licence.expiring
NCM_V3_BASE_URL = os.environ.get("NCM_V3_BASE_URL", "")  # default: derived from the credential's v2 base_url
# Scheduled reports (history/reports.py): mail through Django's backend. EMAIL_HOST set -> SMTP (EMAIL_PORT,
# EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS); otherwise files under var/mail (the demo's mail folder).
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND") or (
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_TIMEOUT = 30
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "reports@portal.invalid")
# White label: a PNG named <organization slug>.png in this folder is the report's logo (else none).
HISTORY_REPORT_LOGO_DIR = os.environ.get("HISTORY_REPORT_LOGO_DIR", str(VAR_DIR / "logos"))
HISTORY_MAX_CALLS_PER_RUN = int(os.environ.get("HISTORY_MAX_CALLS_PER_RUN", "300"))  # per tenant and cycle
CELERY_BEAT_SCHEDULE = {
    "ncm_sync.dispatch_due_syncs": {
        "task": "ncm_sync.tasks.dispatch_due_syncs",
        "schedule": SYNC_DISPATCH_INTERVAL_SECONDS,
        "options": {"expires": max(5.0, SYNC_DISPATCH_INTERVAL_SECONDS - 5)},
    },
    "jobs-resume-stalled": {
        "task": "jobs.tasks.resume_stalled_jobs_task",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "webhooks-dispatch-due-deliveries": {
        "task": "webhooks.tasks.dispatch_due_webhook_deliveries",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Daily retention (settings.RETENTION_DAYS), each app its own rows, in batches.
    "ncm_sync-prune-sync-runs": {"task": "ncm_sync.tasks.prune_sync_runs_task", "schedule": 86400.0},
    "jobs-prune-jobs": {"task": "jobs.tasks.prune_jobs_task", "schedule": 86400.0},
    "webhooks-prune-deliveries": {"task": "webhooks.tasks.prune_deliveries_task", "schedule": 86400.0},
    "accounts-prune-audit-events": {"task": "accounts.tasks.prune_audit_events_task", "schedule": 86400.0},
    # History (docs/history.md): every tenant's cycle series, then retention of samples and roll-ups.
    "history-collect": {
        "task": "history.tasks.collect_due_history",
        "schedule": HISTORY_COLLECT_INTERVAL_SECONDS,
        "options": {"expires": max(30.0, HISTORY_COLLECT_INTERVAL_SECONDS - 30)},
    },
    "history-prune": {"task": "history.tasks.prune_history_task", "schedule": 86400.0},
    "history-licences": {"task": "history.tasks.sync_due_licences", "schedule": 6 * 3600.0},
    "history-reports": {"task": "history.tasks.send_due_reports", "schedule": 900.0, "options": {"expires": 850}},
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

#
# Logging: secrets never reach a log record (portal.logging.RedactSecretsFilter).
#
# LOG_FORMAT=json: one JSON object a line with request_id, user_id, tenant_id, task, job_id, sync_run_id when known
# (portal/logcontext.py), for a log pipeline; plain text otherwise.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain").lower()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "portal.logging.RedactSecretsFilter"},
                "context": {"()": "portal.logcontext.LogContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "portal.logging.JsonFormatter", "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
                 "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"}},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json" if LOG_FORMAT == "json" else "plain",
                             "filters": ["redact", "context"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        # runserver's request lines go through the redacting handler too (the alert push URL holds a token).
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
