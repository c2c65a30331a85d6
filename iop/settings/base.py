"""Settings shared by every environment. Values come from the environment."""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env(name, default=None):
    return os.environ.get(name, default)


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default=""):
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


def env_int(name, default):
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number") from exc


SECRET_KEY = env("SECRET_KEY")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

CLINIC_NAME = env("CLINIC_NAME", "Harbor Light Recovery Center")
CLINIC_PHONE = env("CLINIC_PHONE", "(555) 010-4400")
CLINIC_ADDRESS = env("CLINIC_ADDRESS", "120 Harbor Street, Suite 3, Springfield")
CLINIC_TIME_ZONE = env("CLINIC_TIME_ZONE", "America/New_York")
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.humanize",
    "django_htmx",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "csp",
    "accounts",
    "core",
    "patients",
    "sessions.apps.TherapySessionsConfig",
    "portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "portal.middleware.SponsorBoundaryMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "core.audit.AuditContextMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "csp.middleware.CSPMiddleware",
    "core.middleware.SessionLimitsMiddleware",
    "core.middleware.MFARequiredMiddleware",
]

ROOT_URLCONF = "iop.urls"
WSGI_APPLICATION = "iop.wsgi.application"

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
                "core.context_processors.clinic",
            ],
        },
    },
]

DATABASE_URL = env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/iop")
# Selects and inputs rendered in Python (same markup as Django's templates).
FORM_RENDERER = "core.forms_renderer.Renderer"

DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
DATABASES["default"]["TEST"] = {"NAME": env("TEST_DATABASE_NAME", None)}
# PostgreSQL's JIT compiles "expensive-looking" queries to machine code; for a web
# page's short queries the compiling costs seconds and saves nothing (the
# compliance page at 2,000 patients: 9.4 s with JIT, 2.4 s without; see
# `manage.py bench`).
DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
# The pages' plain-SQL reads (core.db.prepared_cursor) are prepared after this many
# runs on a connection, so PostgreSQL plans them once per connection instead of on
# every request. The ORM's queries are never prepared. None turns preparing off
# (for a pooler in transaction mode): set IOP_DB_PREPARE_THRESHOLD=off.
DATABASES["default"]["OPTIONS"]["prepare_threshold"] = (
    None
    if env("IOP_DB_PREPARE_THRESHOLD") == "off"
    else env_int("IOP_DB_PREPARE_THRESHOLD", 5)
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", "redis://127.0.0.1:6379/0")

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation."
        "UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("email", "full_name")},
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "account_login"

# django-allauth: email is the login, sign-up is closed (see accounts.adapter).
ACCOUNT_ADAPTER = "accounts.adapter.ClinicAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"[{CLINIC_NAME}] "
# Wrong signatures (password or one-time code) before signing pauses, and for how
# long; counted from the audit trail.
SIGNING_MAX_FAILURES = env_int("SIGNING_MAX_FAILURES", 5)
SIGNING_LOCKOUT_MINUTES = env_int("SIGNING_LOCKOUT_MINUTES", 15)

ACCOUNT_RATE_LIMITS = {
    "login_failed": "5/5m/ip,5/5m/key",
    "reset_password": "5/10m/ip,3/10m/key",
}
MFA_ADAPTER = "accounts.adapter.ClinicMFAAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = CLINIC_NAME

LANGUAGE_CODE = "en-us"
TIME_ZONE = CLINIC_TIME_ZONE
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "iop",
    }
}

EMAIL_HOST = env("EMAIL_HOST", "")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = 15
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", f"{CLINIC_NAME} <no-reply@clinic.test>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
else:
    # No mail server configured: every message lands as an .eml file a person can
    # open, under .data/mail/.
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", str(BASE_DIR / ".data" / "mail"))

# SMS provider adapter (see sessions/sms.py).
SMS_BACKEND = env("SMS_BACKEND", "console")
SMS_HTTP_URL = env("SMS_HTTP_URL", "")
SMS_HTTP_TOKEN = env("SMS_HTTP_TOKEN", "")
SMS_FROM = env("SMS_FROM", "")
SMS_HTTP_TIMEOUT = env_int("SMS_HTTP_TIMEOUT", 10)

# Missed-session alerts and reminders (sessions/services/alerts.py).
# Retries: ALERT_RETRY_BACKOFF * 2**n seconds, at most ALERT_RETRY_BACKOFF_MAX; the
# number of attempts is the clinic setting alert_max_attempts.
ALERT_RETRY_BACKOFF = env_int("ALERT_RETRY_BACKOFF", 30)
ALERT_RETRY_BACKOFF_MAX = env_int("ALERT_RETRY_BACKOFF_MAX", 1800)
ALERT_TASK_MAX_RETRIES = env_int("ALERT_TASK_MAX_RETRIES", 20)
# A pending alert due this many seconds ago is presumed lost and queued again.
ALERT_REQUEUE_AFTER = env_int("ALERT_REQUEUE_AFTER", 60)
# The sweep looks this far back for unmarked patients (older misses are history).
ALERT_SWEEP_LOOKBACK_HOURS = env_int("ALERT_SWEEP_LOOKBACK_HOURS", 24)
# Reminders for tomorrow's sessions go out from this local hour on.
ALERT_REMINDER_HOUR = env_int("ALERT_REMINDER_HOUR", 9)

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_TASK_DEFAULT_QUEUE", "celery")
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = CLINIC_TIME_ZONE
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 90
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BEAT_SCHEDULE = {
    "sweep-alerts": {
        "task": "therapy_sessions.sweep_alerts",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# Multi-factor authentication: these roles must enrol an authenticator app before
# they can use anything else (core.middleware.MFARequiredMiddleware). Sponsors may.
MFA_REQUIRED_ROLES = ("Administrator", "Doctor", "Clinic staff")
MFA_TOTP_TOLERANCE = 1
MFA_RECOVERY_CODE_COUNT = 10

# Session limits (core.middleware.SessionLimitsMiddleware): logged out after this
# many idle minutes (sponsors get longer), and after SESSION_MAX_HOURS in all.
SESSION_LIMITS_ENFORCED = True
SESSION_IDLE_MINUTES_STAFF = env_int("SESSION_IDLE_MINUTES_STAFF", 15)
SESSION_IDLE_MINUTES_SPONSOR = env_int("SESSION_IDLE_MINUTES_SPONSOR", 60)
SESSION_MAX_HOURS = env_int("SESSION_MAX_HOURS", 12)
SESSION_COOKIE_AGE = SESSION_MAX_HOURS * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# Content-Security-Policy (django-csp 4): scripts and styles only from our own
# static files; no inline script, no eval, no framing.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    },
    "filters": {"no_query_strings": {"()": "core.logfilters.RedactQueryStrings"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["no_query_strings"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "weasyprint": {"level": "ERROR"},
        "fontTools": {"level": "ERROR"},
    },
}
