"""KetaTrial settings, all from the environment (see .env.example).

Embedded default: SQLite under var/ and Celery tasks run in-process, so `make run` needs
nothing but Python. Set DATABASE_URL and CELERY_BROKER_URL for PostgreSQL and real workers.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value in (None, "") else int(value)


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (see .env.example).")
    SECRET_KEY = "insecure-development-key-only-for-debug-mode-never-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "csp",
    "simple_history",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "ketatrial",
    "participants",
    "infusions",
    "clinimetry",
    "spectroscopy",
    "outcomes",
    "review",
    "safety",
    "conduct",
    # Django REST framework's own app is not installed: the API renders JSON only (no browsable
    # API, whose template tags every page's template engine would import at start-up); its token
    # model and the schema generator are.
    "rest_framework.authtoken",
    "drf_spectacular",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "ketatrial.middleware.InactivityLogoutMiddleware",
    "ketatrial.middleware.UserLanguageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "ketatrial.middleware.AccessMiddleware",
    # Axes must be last: it turns a locked-out login into the lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "ketatrial.urls"
WSGI_APPLICATION = "ketatrial.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "ketatrial.context_processors.navigation",
            ],
        },
    },
]

VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'ketatrial.sqlite3'}"),
        # Production keeps each process's connection for a minute (checked before reuse), so a
        # request does not pay for a new PostgreSQL backend; the demo and the tests open per use.
        conn_max_age=env_int("DB_CONN_MAX_AGE", 0 if DEBUG else 60),
        conn_health_checks=True,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Login protection (django-axes): lock a username from one address after 5 failures for 30
# minutes; a data manager can lift the lock earlier from the user list. By username and address
# together: by username alone anyone could lock the PI out with 5 requests, by address alone a
# whole ward behind the hospital's one NAT address. The address is the client's as the TLS proxy
# saw it (ketatrial.client_ip).
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("AXES_COOLOFF_MINUTES", 30) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "ketatrial.client_ip.client_ip"
# Behind the proxy (docker-compose.yml, Caddyfile) REMOTE_ADDR is the proxy's: take the client's
# address from the X-Forwarded-For the proxy sets (it drops the one a client sends). Where clients
# reach gunicorn without the proxy, turn it off: they could forge the header.
USE_X_FORWARDED_FOR = env_bool("USE_X_FORWARDED_FOR", not DEBUG)
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

# Second factor (django-otp, TOTP) for the kinds of account listed: role codes, plus
# "unblinded_pharmacist" (a pharmacist who sees the allocation) and "administrator" (superuser or
# staff). They open no page but the second-factor page until they pass it in the session; API
# tokens are issued only to sessions that passed it, whatever the role. participants/sign_in.py.
OTP_REQUIRED_FOR = env_list(
    "OTP_REQUIRED_FOR", "unblinded_pharmacist,principal_investigator,data_manager,administrator"
)
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "KetaTrial")

# Inactivity logout; the browser also warns and leaves the page when the time is up.
INACTIVITY_TIMEOUT_SECONDS = env_int("INACTIVITY_TIMEOUT_MINUTES", 30) * 60
SESSION_COOKIE_AGE = env_int("SESSION_MAX_AGE_HOURS", 12) * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

LANGUAGE_CODE = "es"
LANGUAGES = [("es", _("Spanish")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "America/Mexico_City"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG or env_bool("WHITENOISE_USE_FINDERS", False)
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "ketatrial@localhost")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
# A mail server that hangs fails the attempt, which the outbox tries again later
# (ketatrial/jobs.py), instead of holding a worker without end.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT_SECONDS", 30)

# Celery: with no broker configured, tasks run inside the web process (the demo needs nothing
# else); with CELERY_BROKER_URL set, real workers take them.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", CELERY_BROKER_URL)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
# Outbox jobs (ketatrial/jobs.py) run in the requesting process when there is no broker (the
# demo). A setting of its own, read at each hand-over: Celery reads its CELERY_ settings once, so
# the tests switch this one, never Celery's.
JOBS_IN_PROCESS = CELERY_TASK_ALWAYS_EAGER
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
# Time limits and the broker agree (ketatrial/jobs.py): a job's hard time limit is below Redis'
# visibility timeout, so a job still running is never delivered a second time by the broker; a
# worker that dies is taken over through the job's lease (renewed every JOB_LEASE_SECONDS / 3)
# within a lease and a sweep (30 s), long before the visibility timeout.
JOB_TIME_LIMIT_SECONDS = env_int("JOB_TIME_LIMIT_SECONDS", 3600)
JOB_LEASE_SECONDS = env_int("JOB_LEASE_SECONDS", 60)
JOB_REDISPATCH_SECONDS = env_int("JOB_REDISPATCH_SECONDS", 300)
JOB_QUEUE = env_str("JOB_QUEUE", "celery")
CELERY_TASK_TIME_LIMIT = JOB_TIME_LIMIT_SECONDS
CELERY_TASK_SOFT_TIME_LIMIT = JOB_TIME_LIMIT_SECONDS - 60
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": JOB_TIME_LIMIT_SECONDS + 600,
    "socket_connect_timeout": 3,
    "socket_timeout": 10,
}
# The beat schedule (crontab entries need Celery) is in ketatrial/celery.py: settings stay free of
# Celery, so a web process does not load it.

# MRS uploads are streamed to disk under MEDIA_ROOT; larger files are refused.
MRS_MAX_UPLOAD_BYTES = env_int("MRS_MAX_UPLOAD_MB", 2048) * 1024 * 1024
# The uncompressed size a NIfTI header may declare (read before anything else of the file): a
# 32-coil MEGA series of 2 x 160 transients x 2048 points in complex64 holds 160 MB, so 512 MB
# leaves room for 64 coils or complex128; a 2 MB gzip bomb declaring gigabytes is refused unread.
MRS_MAX_DECLARED_BYTES = env_int("MRS_MAX_DECLARED_MB", 512) * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440  # bigger uploads go to a temporary file, not memory

# The protocol's study parameters may be overridden from a JSON file without a code edit.
PROTOCOL_OVERRIDES_FILE = env_str("PROTOCOL_OVERRIDES_FILE")

# Identifying data is encrypted with these Fernet keys (comma-separated; the first encrypts, all
# decrypt, so keys can be rotated). Required when DEBUG is off; in DEBUG a key is derived from
# SECRET_KEY so the demo runs without configuration.
IDENTITY_ENCRYPTION_KEYS = env_list("IDENTITY_ENCRYPTION_KEYS")
if not IDENTITY_ENCRYPTION_KEYS and DEBUG:
    import base64
    import hashlib

    IDENTITY_ENCRYPTION_KEYS = [
        base64.urlsafe_b64encode(hashlib.sha256(SECRET_KEY.encode()).digest()).decode()
    ]

# Blinding: the allocation is shown only to users listed here AND in the pharmacist group.
UNBLINDED_USERNAMES = env_list("UNBLINDED_USERNAMES")
# The key of the audit chain (ketatrial/audit_chain.py): in the environment, never in the database,
# so whoever can rewrite the tables cannot write a matching hash. Back it up apart from the data.
# The reason of every audited change is kept whole (a text column; django-simple-history's default
# is 100 characters, and PostgreSQL refused a longer reason, the correction with it).
SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True
AUDIT_CHAIN_KEY = env_str("AUDIT_CHAIN_KEY", "dev-only-audit-chain-key-not-secret" if DEBUG else "")
# The role web, worker and beat connect as (PostgreSQL; ketatrial/db_roles.py): granted its rights
# by the owner after every migrate. Empty: no separate role (the demo, SQLite).
DATABASE_APP_ROLE = env_str("DATABASE_APP_ROLE", "")
# Where the nightly job writes the chain heads: outside the database (a volume of its own).
AUDIT_CHAIN_HEADS_DIR = Path(env_str("AUDIT_CHAIN_HEADS_DIR", str(VAR_DIR / "audit-heads")))
# Backups (`manage.py backup`, ketatrial/backup.py) are encrypted with this key: 32 random bytes,
# URL-safe base64. Required by backup and restore only; kept with the other keys (`backup_keys`).
BACKUP_ENCRYPTION_KEY = env_str("BACKUP_ENCRYPTION_KEY")
# Keyed pseudonyms and per-participant date shifts of exports (outcomes/export_options.py): HMAC-SHA256
# of the participant code under this key, so nobody without it can go back from a pseudonym to
# INNN-001 by trying every code. Changing it changes every pseudonym and every shift.
EXPORT_PSEUDONYM_KEY = env_str(
    "EXPORT_PSEUDONYM_KEY", "dev-only-export-pseudonym-key-not-secret" if DEBUG else ""
)

if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # Trusted only because nothing but the TLS proxy can reach gunicorn: in docker-compose.yml the
    # web service publishes no port (only `expose`), and Caddy (Caddyfile) replaces any
    # X-Forwarded-Proto a client sends with the scheme it received. A deployment that publishes
    # gunicorn's port, or puts another proxy in front, must keep that true or drop this line.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
# Content-Security-Policy (django-csp): only this site's own files run or style a page; no inline
# script, event handler, <style> block or style attribute (templates use classes and
# static/js). Bootstrap's CSS draws its form icons as data: SVG images. The PDF templates
# (WeasyPrint) keep their <style> blocks: they are rendered to PDF, never served as pages.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}

# Read-only statistician API: token (or session) authentication, JSON only, OpenAPI 3 schema.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "ketatrial.api_auth.TokenAuthentication",
        "ketatrial.api_auth.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "KetaTrial statistician API",
    "DESCRIPTION": "Read-only study data with the exports' blinding rules.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
}
