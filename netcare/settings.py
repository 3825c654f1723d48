"""NetCare settings: one module, every value from the environment.

Development and the demo need no service (SQLite in var/, a filesystem Celery broker);
production sets DJANGO_ENV=production, DATABASE_URL and REDIS_URL.
https://docs.djangoproject.com/en/5.2/ref/settings/
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("NETCARE_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
if DJANGO_ENV not in {"development", "test", "production"}:
    raise ImproperlyConfigured(
        f"DJANGO_ENV must be development, test or production, not {DJANGO_ENV!r}"
    )
PRODUCTION = DJANGO_ENV == "production"


def _required(name: str) -> str:
    """A production secret: refuse to start without it, saying which one is missing."""
    value = env.str(name, default="")
    if not value:
        raise ImproperlyConfigured(f"{name} must be set when DJANGO_ENV=production")
    return value


# Keys that were ever published (the repository once held the first as its development
# default): anyone could sign a session or a JWT with them, so they are refused everywhere.
PUBLISHED_SECRET_KEYS = frozenset({"netcare-insecure-development-key-not-for-production"})


def _install_secret_key(var_dir: Path) -> str:
    """This install's own random key, made on first start and kept in var/ (mode 0600).

    Written to a temporary file and linked into place, so processes starting together (web,
    worker, beat) all read the one complete key that won.
    """
    path = var_dir / "secret_key"
    if not path.exists():
        tmp = var_dir / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process won the race: use its key
        finally:
            tmp.unlink()
    return path.read_text().strip()


def _secret_key() -> str:
    """SECRET_KEY from the environment (required in production), else this install's own."""
    key = _required("SECRET_KEY") if PRODUCTION else env.str("SECRET_KEY", default="")
    if key in PUBLISHED_SECRET_KEYS:
        raise ImproperlyConfigured("SECRET_KEY is a published key: set a secret one")
    return key or _install_secret_key(VAR_DIR)


SECRET_KEY = _secret_key()
if PRODUCTION:
    ALLOWED_HOSTS = [h for h in _required("ALLOWED_HOSTS").split(",") if h.strip()]
    DEBUG = False
else:
    ALLOWED_HOSTS = env.list(
        "ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"]
    )
    DEBUG = env.bool("DEBUG", default=DJANGO_ENV == "development")

# The public URL the clinic serves us at. Links in messages (unsubscribe) and the Twilio
# signature check use it, because behind a proxy the request URL is not what Twilio signed.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    # django.contrib.admin, with coordinator.sites.CoordinatorAdminSite as the default site.
    "coordinator.apps.CoordinatorAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    # Swagger UI's files served from here, not a CDN (the CSP allows only 'self').
    "drf_spectacular_sidecar",
    "csp",
    "simple_history",
    "django_celery_beat",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "netcare",
    "treatments",
    "surveillance",
    "alerts",
    "api",
    "coordinator.apps.CoordinatorConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before anything reads input: NUL in a query string or form is a 400, not a 500.
    "api.middleware.UnstorableInputMiddleware",
    "api.middleware.NoStoreMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "api.middleware.DatabaseUnavailableMiddleware",
    # Last, as django-axes asks: it needs the authenticated user and the response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "netcare.urls"
WSGI_APPLICATION = "netcare.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

# --- Database -------------------------------------------------------------------------
# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-db-url
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'netcare.sqlite3'}")
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The demo runs web, worker and beat against one SQLite file: WAL lets readers go on
    # while one writes, and IMMEDIATE transactions take the write lock up front instead of
    # failing with "database is locked" half-way through (select_for_update is a no-op here).
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # django-axes first, so a locked-out login never reaches the password check.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("pt", "Portuguese"), ("es", "Spanish"), ("fr", "French")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Manifest storage needs collectstatic, so only production uses it.
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# --- Security (production) ---------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=30 * 60)  # idle limit for staff
SESSION_SAVE_EVERY_REQUEST = True  # the age above counts from the last request (idle timeout)
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    CSRF_COOKIE_HTTPONLY = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # Behind a TLS-terminating proxy that sets X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[PUBLIC_BASE_URL])
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Content-Security-Policy (django-csp 4): scripts only from this origin or with the
# response's nonce, nothing framed, no plugins. Inline styles stay allowed: the admin's
# pages and Swagger UI set them, and they cannot run code.
# https://django-csp.readthedocs.io/en/latest/configuration.html
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- Audit --------------------------------------------------------------------------------
# https://django-simple-history.readthedocs.io/en/latest/historical_model.html#change-reason
# The reason of a change (a tumour board's decision, a clinician's override) is kept whole.
SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True

# --- Two-factor login for the admin (django-otp, TOTP devices) ------------------------------
# https://django-otp-official.readthedocs.io/en/stable/overview.html#admin
# On in production; the local demo turns it off so the demo logins work with a password.
ADMIN_OTP_REQUIRED = env.bool("ADMIN_OTP_REQUIRED", default=PRODUCTION)
OTP_TOTP_ISSUER = "NetCare"

# --- django-axes: lock out repeated failed logins -----------------------------------------
# https://django-axes.readthedocs.io/en/latest/4_configuration.html
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)

# --- Celery -------------------------------------------------------------------------------
# https://docs.celeryq.dev/en/stable/userguide/configuration.html
# Default: kombu's filesystem transport (one folder for in and out) so the demo runs a real
# worker and beat with no server. It cannot redeliver after a crash: the database (the
# reminder outbox with its leases) stays the source of truth either way.
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    BROKER_DIR.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR),
        "data_folder_out": str(BROKER_DIR),
        "processed_folder": str(BROKER_DIR),
        "store_processed": False,
        # Broadcast (remote control) files; kombu's default is ./control in the working dir.
        "control_folder": str(BROKER_DIR / "control"),
    }
else:
    # Long enough that a slow batch is not redelivered while it runs; the reminder lease
    # (ALERTS_LEASE_SECONDS) is what recovers a lost batch, not the broker.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
# The policy every task starts from: acknowledged after it ran (a worker that dies mid-task
# leaves the message to be redelivered where the broker can), retried with exponential
# backoff and jitter on errors worth retrying, never more than a few times. Annotations set
# these on every task class before Celery adds the retry wrapper, so a task needs no options.
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-annotations
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = False  # a lost batch is recovered by its lease, not redelivery
CELERY_TASK_ANNOTATIONS = {
    "*": {
        "autoretry_for": (ConnectionError, TimeoutError),
        "retry_backoff": 2,
        "retry_backoff_max": 60,
        "retry_jitter": True,
        "max_retries": 5,
    }
}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = False
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- REST framework ------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # simplejwt's, also refusing tokens issued before a password change or revocation.
        "api.authentication.RevocableJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + ([] if PRODUCTION else ["rest_framework.renderers.BrowsableAPIRenderer"]),
    # Bounded size and depth: a 1,000-deep body must be a 400, not a RecursionError.
    "DEFAULT_PARSER_CLASSES": ["api.parsers.BoundedJSONParser"],
    # Documents the error bodies of every operation (undocumented 4xx fail schemathesis).
    "DEFAULT_SCHEMA_CLASS": "api.schema.NetcareAutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "user": env.str("THROTTLE_USER", default="2000/minute"),
        "token": env.str("THROTTLE_TOKEN", default="20/minute"),
        # The subscribed calendar feed: anonymous, per client address.
        "calendar_feed": env.str("THROTTLE_CALENDAR_FEED", default="60/minute"),
    },
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "EXCEPTION_HANDLER": "api.exceptions.exception_handler",
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=5)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    # Tokens carry a digest of the password hash, refused once the password changes.
    "CHECK_REVOKE_TOKEN": True,
    "SIGNING_KEY": SECRET_KEY,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "NetCare API",
    "DESCRIPTION": "Follow-up of patients after surgery for a small-intestine NET.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "SexEnum": "treatments.models.Sex",
        # The long-acting SSAs appear in several request bodies: one named enum for all.
        "SsaAgentEnum": "treatments.machine.SSA_AGENTS",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        # A Redis that stops answering must not hang requests (throttles read the cache).
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

# --- Messages to patients -------------------------------------------------------------------
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="NetCare <no-reply@netcare.invalid>")
NETCARE_SMS_BACKEND = env.str("SMS_BACKEND", default="alerts.channels.ConsoleSMSBackend")
NETCARE_CLINIC_PHONE = env.str("CLINIC_PHONE", default="+44 20 7946 0000")
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
# Email tracking webhooks (/webhooks/email/<esp>/tracking/) check this HTTP basic-auth
# secret ("user:password", set in the ESP's webhook URL); unset, they refuse every request.
ANYMAIL = {"WEBHOOK_SECRET": env.str("ANYMAIL_WEBHOOK_SECRET", default="")}
# /healthz answers 503 when a periodic task has not run for longer than this (seconds).
HEALTHZ_MAX_TASK_AGE = {
    "sweep": env.int("HEALTHZ_MAX_SWEEP_AGE", default=45 * 60),
    "dispatch": env.int("HEALTHZ_MAX_DISPATCH_AGE", default=120),
    "escalate": env.int("HEALTHZ_MAX_ESCALATE_AGE", default=3 * 3600),
}
