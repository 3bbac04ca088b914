"""django-helpdesk as its documentation installs it, served for a load test: DEBUG off, SQLite,
the helpdesk app with its REST API (Django REST framework), e-mail sent to memory.

Everything the run writes (the database, attachments) lives in $PEERDESK_STATE, a fresh folder
per run that the load script makes and removes.
"""

import os
from pathlib import Path

STATE = Path(os.environ.get("PEERDESK_STATE") or Path(__file__).resolve().parent.parent / "state")

SECRET_KEY = os.environ.get("PEERDESK_SECRET_KEY") or "peerdesk-load-test-only"  # loopback, throwaway data
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",  # the helpdesk puts the site's domain in its e-mail
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "helpdesk",
]
SITE_ID = 1

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "peerdesk.urls"
WSGI_APPLICATION = "peerdesk.wsgi.application"
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
            ]
        },
    }
]

# SQLite as Django recommends it for concurrent writers: WAL, and write transactions that take
# the lock when they begin (IMMEDIATE) and wait up to 20 s for it instead of failing at once
# with "database is locked".
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": STATE / "db.sqlite3",
        "OPTIONS": {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# API clients authenticate with DRF tokens (one indexed lookup per request), as ticketflow's
# channels and people send a key or a bearer token. Basic auth would hash the password
# (PBKDF2, a million rounds) on every request and measure that instead of the helpdesk.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"],
}

HELPDESK_TEAMS_MODE_ENABLED = False  # pinax-teams is optional; the API does not need it
HELPDESK_API_ENABLED = True

# The helpdesk e-mails the submitter on every new ticket and public follow-up: rendered and
# handed to Django's mail system, which keeps it in memory here (moto keeps ticketflow's).
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
DEFAULT_FROM_EMAIL = "helpdesk@peerdesk.example"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
MEDIA_ROOT = STATE / "media"
MEDIA_URL = "/media/"
LOGIN_URL = "/login/"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
