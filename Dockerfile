# One image for web, worker and beat; docker-compose.yml picks the command.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

COPY pyproject.toml requirements.lock README.md ./
COPY silverfin_sync silverfin_sync
COPY clients clients
COPY syncs syncs
COPY winbooks winbooks
COPY templates templates
COPY manage.py ./
# Exactly the versions of the lock file (make lock), never whatever is newest on the day of the build.
RUN pip install --no-cache-dir --constraint requirements.lock . \
 && useradd --system --home /app --shell /usr/sbin/nologin app \
 && DJANGO_ENV=production SECRET_KEY=build-only FIELD_ENCRYPTION_KEYS=build-only DATABASE_URL=sqlite:////tmp/build.db \
    CELERY_BROKER_URL=memory:// REDIS_URL=redis://build-only ALLOWED_HOSTS=build-only \
    python manage.py collectstatic --noinput -v0

USER app
EXPOSE 8000
CMD ["gunicorn", "silverfin_sync.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
