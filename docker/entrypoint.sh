#!/bin/sh
# The image's entry point: `web`, `worker`, `beat`, `migrate`, `seed-demo`, or any
# other command (for example `python manage.py createsuperuser`).
set -eu

case "${1:-web}" in
  web)
    # The compose network reaches web only through the proxy or the healthcheck, so
    # X-Forwarded-* from any peer is trusted (see README, "Clinic server").
    exec gunicorn iop.wsgi:application \
      --bind 0.0.0.0:8000 \
      --workers "${WEB_CONCURRENCY:-3}" \
      --timeout 60 --graceful-timeout 20 \
      --forwarded-allow-ips "*" \
      --access-logfile -
    ;;
  worker)
    exec celery -A iop worker \
      --loglevel "${LOG_LEVEL:-INFO}" \
      --concurrency "${WORKER_CONCURRENCY:-2}"
    ;;
  beat)
    # The schedule file is a cache of "last run" times: rebuilt if lost.
    exec celery -A iop beat --loglevel "${LOG_LEVEL:-INFO}" \
      --schedule /tmp/celerybeat-schedule
    ;;
  migrate)
    python manage.py migrate --noinput
    # Prints what a clinic server should still fix (HTTPS, hosts); does not block.
    exec python manage.py check --deploy
    ;;
  seed-demo)
    exec python manage.py seed_demo
    ;;
  *)
    exec "$@"
    ;;
esac
