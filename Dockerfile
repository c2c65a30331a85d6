# One image for web, worker, beat and the one-off migrate job (docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=iop.settings.production

# WeasyPrint (PDF letters and reports) needs Pango, HarfBuzz and fontconfig, plus a
# font; nothing is fetched at run time.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libfontconfig1 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first (a layer that changes only with the lock), at the pinned
# versions of requirements.lock; the project itself has no package to install.
COPY pyproject.toml requirements.lock ./
RUN pip install -c requirements.lock .

COPY . .

# Static files are collected into the image (WhiteNoise serves them, with hashed
# names), so every container of one image serves the same files. The key below
# exists only for this build step: settings refuse to load without one.
RUN SECRET_KEY=collectstatic-at-build-time-only-never-used-to-sign-anything-0000 \
    python manage.py collectstatic --noinput -v0 \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin iop \
 && mkdir -p /app/.data \
 && chown iop /app/.data \
 && chmod +x docker/entrypoint.sh

USER iop
# fontconfig (WeasyPrint) keeps its cache here: the app folder is read-only to iop.
ENV XDG_CACHE_HOME=/tmp/cache
EXPOSE 8000
ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["web"]
