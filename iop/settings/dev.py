"""Local development and `make run`: a fixed development key, DEBUG from the env."""

from .base import *  # noqa: F403
from .base import env, env_bool

SECRET_KEY = env("SECRET_KEY", "dev-only-insecure-key-change-me-for-any-real-clinic")
DEBUG = env_bool("DEBUG", True)
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
