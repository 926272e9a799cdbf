"""Settings of the vidproc example site.

Everything that differs between machines comes from the environment or `.env` (see
.env.example): the vidproc settings, the secret key, debug, hosts and the database file.
"""
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from .env import env, env_bool, env_list, load_env_file

BASE_DIR = Path(__file__).resolve().parent.parent
load_env_file(Path(env("DJANGO_ENV_FILE", str(BASE_DIR / ".env"))))

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("Set DJANGO_SECRET_KEY (or DJANGO_DEBUG=1 for a local try-out).")
    SECRET_KEY = "django-insecure-local-development-only"
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")

# vidproc: where its API is, the bearer token it was started with (VIDPROC_API_TOKEN on both
# sides), and the key of its webhook signatures (its WEBHOOK_SECRET).
VIDPROC_URL = env("VIDPROC_URL", "http://127.0.0.1:8080").rstrip("/")
VIDPROC_API_TOKEN = env("VIDPROC_API_TOKEN")
VIDPROC_WEBHOOK_SECRET = env("VIDPROC_WEBHOOK_SECRET")
# A webhook whose signature timestamp is further than this from our clock is refused, so that a
# captured delivery cannot be replayed later.
VIDPROC_WEBHOOK_TOLERANCE_SECONDS = int(env("VIDPROC_WEBHOOK_TOLERANCE_SECONDS", "300"))
# The largest file a browser may send through one direct upload.
VIDPROC_MAX_UPLOAD_BYTES = int(env("VIDPROC_MAX_UPLOAD_BYTES", str(2 * 1024 ** 3)))
# The origin the browser pages are served from (the direct upload's cors_origin). Empty: the
# origin of the request that asks for the upload (behind a TLS proxy, set it or
# SECURE_PROXY_SSL_HEADER so that it is https).
VIDPROC_SITE_ORIGIN = env("VIDPROC_SITE_ORIGIN").rstrip("/")
VIDPROC_TIMEOUT_SECONDS = float(env("VIDPROC_TIMEOUT_SECONDS", "10"))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "videos",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "mysite.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "mysite.wsgi.application"

# Django's own database (SQLite). vidproc's job database is its VIDPROC_DATABASE_URL, never
# DATABASE_URL (docs/CONFIGURATION.md): the two never share tables.
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": env("DJANGO_DB_PATH", str(BASE_DIR / "db.sqlite3")),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_L10N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"videos": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", "INFO")}},
}
