"""Settings, read from the environment through django-environ.

Two modes, chosen by ``DJANGO_ENV``:

- ``development`` (the default, used by ``make demo`` and the tests): an embedded SQLite database, a Celery
  broker that needs no server (kombu's filesystem transport) and development-only keys, so the product runs
  from one command on a fresh machine.
- ``production``: every secret must come from the environment. A missing one stops start-up with a message
  naming it, instead of running with a guessable key.
"""

from __future__ import annotations

from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
if DJANGO_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(f"DJANGO_ENV must be 'development' or 'production', not {DJANGO_ENV!r}.")
PRODUCTION = DJANGO_ENV == "production"

# Required in production, with a development default otherwise. Each development value is unusable in
# production on purpose: the guard below refuses to start without the real one.
_REQUIRED_IN_PRODUCTION = {
    "SECRET_KEY": "django-insecure-development-only-key-never-use-in-production-0123456789",
    # A Fernet key (32 url-safe base64 bytes). Development only.
    "FIELD_ENCRYPTION_KEYS": "ZGV2ZWxvcG1lbnQtb25seS1rZXktMzItYnl0ZXMhISE=",
    "DATABASE_URL": f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
    "CELERY_BROKER_URL": "filesystem://",
    "REDIS_URL": "",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
}

if PRODUCTION:
    _missing = [name for name in _REQUIRED_IN_PRODUCTION if not env.str(name, default="").strip()]
    if _missing:
        raise ImproperlyConfigured(
            "DJANGO_ENV=production needs these environment variables, which are missing or empty: "
            + ", ".join(_missing)
            + ". Set them (see README.md, 'Production') and start again."
        )


def _setting(name: str) -> str:
    return env.str(name, default="" if PRODUCTION else _REQUIRED_IN_PRODUCTION[name])


SECRET_KEY = _setting("SECRET_KEY")
DEBUG = env.bool("DJANGO_DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = [host.strip() for host in _setting("ALLOWED_HOSTS").split(",") if host.strip()]
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# MultiFernet keys, comma-separated: the first encrypts, all decrypt (see silverfin_sync/crypto.py).
FIELD_ENCRYPTION_KEYS = [key.strip() for key in _setting("FIELD_ENCRYPTION_KEYS").split(",") if key.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "django_htmx",
    "silverfin_sync",
    "clients",
    "syncs",
    "notifications",
    "administration",
]

MIDDLEWARE = [
    "silverfin_sync.client_address.ForwardedHeadersFromTrustedProxiesOnly",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "silverfin_sync.idle_sessions.IdleSessionTimeout",
    # After authentication: the user's own language, else their firm's default, else the browser's.
    "clients.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
]

if PRODUCTION:
    # Static files straight from gunicorn, compressed and cached forever (hashed names); in development
    # Django's own server serves them.
    MIDDLEWARE.insert(2, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "silverfin_sync.urls"
WSGI_APPLICATION = "silverfin_sync.wsgi.application"

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
            ],
        },
    },
]

DATABASES = {"default": env.db_url_config(_setting("DATABASE_URL"))}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default: several processes (web, worker, beat) share one file, so wait for locks
    # instead of failing at once, and take the write lock at the start of a transaction (no upgrade
    # deadlocks between two writers).
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# E-mails log in whatever their capitals; Django's own backend stays listed for sessions that name it (an
# accepted invitation logs its user in through it).
AUTHENTICATION_BACKENDS = ["clients.backends.EmailBackend", "django.contrib.auth.backends.ModelBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Failed log-ins are throttled per (user name, client address), per address with a higher ceiling, and per
# user name over the addresses it never logged in from (clients/throttle.py).
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_FAILURE_ADDRESS_LIMIT = env.int("LOGIN_FAILURE_ADDRESS_LIMIT", default=50)
LOGIN_FAILURE_USER_LIMIT = env.int("LOGIN_FAILURE_USER_LIMIT", default=20)
LOGIN_FAILURE_WINDOW_SECONDS = env.int("LOGIN_FAILURE_WINDOW_SECONDS", default=900)
# Password-reset mails per e-mail address and per client address in the same window.
PASSWORD_RESET_LIMIT = env.int("PASSWORD_RESET_LIMIT", default=3)
PASSWORD_RESET_ADDRESS_LIMIT = env.int("PASSWORD_RESET_ADDRESS_LIMIT", default=20)
LOGIN_KNOWN_GOOD_SECONDS = env.int("LOGIN_KNOWN_GOOD_SECONDS", default=90 * 24 * 3600)

# The reverse proxy: forwarded headers (client address, X-Forwarded-Proto) are believed only from these
# addresses or networks, and the client address is read from CLIENT_ADDRESS_HEADER
# (silverfin_sync/client_address.py). Empty: no proxy, the peer's address is the client's.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
CLIENT_ADDRESS_HEADER = env.str("CLIENT_ADDRESS_HEADER", default="X-Forwarded-For")

# Belgian accountants work in Dutch or French, some in English (README: "Languages"). The language is the
# user's own, else their firm's default, else the browser's (clients/middleware.py); URLs carry none.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("nl", "Nederlands"), ("fr", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Belgian formats: 1.234,56 and 31/12/2024 in Dutch and French (Django's own nl writes 31-12-2024);
# 1,234.56 and 31/12/2024 in English.
FORMAT_MODULE_PATH = ["silverfin_sync.formats"]
TIME_ZONE = "Europe/Brussels"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(VAR_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

REDIS_URL = _setting("REDIS_URL")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    # The embedded default has no Redis; the database cache is shared by every process of the demo.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "cache"}}

# Celery. Without a broker URL the embedded default uses kombu's filesystem transport: a folder that the web
# process, the worker and beat share, so `make demo` needs no server.
CELERY_BROKER_URL = _setting("CELERY_BROKER_URL")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_folder = env.path("CELERY_FILESYSTEM_FOLDER", default=str(VAR_DIR / "celery-broker"))
    Path(_broker_folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(_broker_folder),
        "data_folder_out": str(_broker_folder),
        "store_processed": False,
        # kombu writes its broadcast exchanges (worker control, pidbox) into ./control unless told otherwise.
        "control_folder": str(Path(_broker_folder) / "control"),
    }
else:
    # Redis redelivers an unacknowledged task after the visibility timeout: it must outlast the longest
    # task (hard time limit) and the longest retry countdown, or a long sync would run twice.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 4 * 3600}
# A worker takes from its queues in the order given by -Q ("syncs-now,syncs"): a person's "Sync now" before
# the nightly fleet, rather than in turns (kombu's default, round robin).
CELERY_BROKER_TRANSPORT_OPTIONS["queue_order_strategy"] = "priority"
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_DEFAULT_QUEUE = "syncs"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)

# Syncs. A run whose worker has not written a heartbeat for this long is taken over by another worker
# (the dispatcher re-queues it); every page written refreshes the heartbeat.
SYNC_STALE_AFTER_SECONDS = env.int("SYNC_STALE_AFTER_SECONDS", default=600)
# A queued run no worker has started after this long, or a run waiting this long past its last heartbeat for
# a transient retry, is sent again (a broker restart may have lost its message). Keep it above the longest
# retry backoff (10 minutes, syncs/runs.py retry_delay); a run sent twice is still carried out once (the claim).
SYNC_REQUEUE_AFTER_SECONDS = env.int("SYNC_REQUEUE_AFTER_SECONDS", default=900)
# At most this many due links get a run per dispatcher tick (the rest wait a minute): the tick's reads and
# writes take one statement each whatever the count (syncs/schedule.py), and SQLite's limit of 32,766
# parameters in one statement bounds it in the embedded default.
SYNC_DISPATCH_BATCH = env.int("SYNC_DISPATCH_BATCH", default=25_000)
SYNC_MAX_RETRIES = env.int("SYNC_MAX_RETRIES", default=5)
# No firm runs more syncs at once than this, across all workers (its other runs wait in the queue), so one
# firm's hundreds of files or one slow WoW host cannot hold every worker.
SYNC_MAX_RUNNING_PER_FIRM = env.int("SYNC_MAX_RUNNING_PER_FIRM", default=2)
# A run a person asked for ("Sync now", a first sync) may use this many slots above the cap, so a firm's own
# nightly runs, however many, never keep its people waiting for one of them to end.
SYNC_RESERVED_FOR_REQUESTED_PER_FIRM = env.int("SYNC_RESERVED_FOR_REQUESTED_PER_FIRM", default=1)
# At most this many requests in flight per WoW connection (licence), across all workers (a Redis semaphore
# with leases, syncs/providers/winbooks/slots.py); a request waits this long for a slot before the run is
# retried later. No cap without Redis.
WOW_MAX_CONCURRENT_REQUESTS = env.int("WOW_MAX_CONCURRENT_REQUESTS", default=4)
WOW_SLOT_WAIT_SECONDS = env.float("WOW_SLOT_WAIT_SECONDS", default=30.0)
# How many of those one run may use at once (documents of different periods read side by side, the proof's
# batches): WoW's latency is then paid once per round of requests, not once per request. 1 = one at a time.
WOW_REQUESTS_IN_FLIGHT_PER_RUN = env.int("WOW_REQUESTS_IN_FLIGHT_PER_RUN", default=4)
# How long one HTTP exchange with WoW (request and whole answer) may take, however slowly it comes.
WOW_EXCHANGE_DEADLINE_SECONDS = env.float("WOW_EXCHANGE_DEADLINE_SECONDS", default=120.0)
SYNC_TIME_LIMIT_SECONDS = env.int("SYNC_TIME_LIMIT_SECONDS", default=3 * 3600)
# WinbooksOnWeb API locations (syncs/providers/api_location.py). Restricted (production): https on these hosts
# only, resolving to public addresses only; otherwise plain http to this machine (the sandbox) is allowed too.
WOW_API_HOSTS = [
    host.lower()
    for host in env.list("WOW_API_HOSTS", default=["rapi.winbooksonweb.be", "prd.winbooksapis.be"])
]
WOW_API_RESTRICTED = env.bool("WOW_API_RESTRICTED", default=PRODUCTION)

# Security. In production everything goes over HTTPS behind a proxy that sets X-Forwarded-Proto (believed only
# from TRUSTED_PROXIES: the first middleware removes it from anyone else's requests).
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Content-Security-Policy (django-csp): scripts, styles, fonts and requests from the site itself only; no
# inline script or style, no plug-in, no framing, forms post only here.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# An idle session ends: requests push its expiry SESSION_IDLE_TIMEOUT_SECONDS on (at most once a minute,
# silverfin_sync/idle_sessions.py).
SESSION_COOKIE_AGE = env.int("SESSION_IDLE_TIMEOUT_SECONDS", default=3600)
# A password-reset link works once, for an hour.
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT_SECONDS", default=3600)

# Error reports (the 500 page with DEBUG, mails to ADMINS) never show secrets held in local variables.
DEFAULT_EXCEPTION_REPORTER_FILTER = "silverfin_sync.reporting.SecretsHidingReporterFilter"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.server": {"level": "WARNING"}},
}

# Mail (notifications, password resets, error reports to ADMINS), from EMAIL_URL, e.g.
# smtp+tls://user:password@mail.example.com:587. The demo prints mails on the console.
globals().update(
    env.email_url("EMAIL_URL", default="smtp://localhost:25" if PRODUCTION else "consolemail://")
)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Silverfin sync <no-reply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# The portal's address, for the links in e-mails (notifications/): the scheme, host and port users open.
SITE_URL = env.str("SITE_URL", default="https://sync.example.com" if PRODUCTION else "http://127.0.0.1:8000")
# Importing client files from a spreadsheet (administration/): the largest upload and the most rows at once.
CLIENT_FILE_IMPORT_MAX_BYTES = env.int("CLIENT_FILE_IMPORT_MAX_BYTES", default=5_000_000)
CLIENT_FILE_IMPORT_MAX_ROWS = env.int("CLIENT_FILE_IMPORT_MAX_ROWS", default=5_000)
