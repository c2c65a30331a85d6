"""The test suite: real PostgreSQL and Redis, fast password hashing."""

import os

from .base import *  # noqa: F403
from .base import BASE_DIR, DATABASES, env

SECRET_KEY = "test-only-key-not-secret-000000000000000000000000000000"
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DATABASES["default"]["TEST"] = {"NAME": env("TEST_DATABASE_NAME", "test_iop")}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
EMAIL_FILE_PATH = str(BASE_DIR / ".data" / "test-mail")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CELERY_TASK_ALWAYS_EAGER = False
# A queue of this run's own: a worker the tests start consumes only what this run
# sends, even when `make run` or another test run shares the Redis database.
CELERY_TASK_DEFAULT_QUEUE = f"iop-test-{os.getpid()}"
# Real Redis, with a key prefix of this run's own so that runs never share counters.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,  # noqa: F405
        "KEY_PREFIX": f"iop-test-{os.getpid()}",
    }
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
