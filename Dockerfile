# Production image: gunicorn for web, the same image runs the Celery worker and beat.
FROM python:3.11-slim
# MALLOC_ARENA_MAX: a sync's threads would otherwise each grow a glibc arena (bench/sync_profile.py --routers 50000:
# a first sync's peak RSS 510 -> 484 MB, a full resync's 307 -> 295 MB with 2 arenas; docs/sync-performance.md).
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 MALLOC_ARENA_MAX=2
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# collectstatic needs settings but no secrets of value: throwaway values for the build step only.
RUN DJANGO_SECRET_KEY=build-only DJANGO_ALLOWED_HOSTS=localhost \
    PORTAL_ENCRYPTION_KEYS=$(python -c 'from cryptography.fernet import Fernet;print(Fernet.generate_key().decode())') \
    python manage.py collectstatic --noinput
RUN useradd --system --uid 1000 portal && mkdir -p /app/var && chown -R portal /app/var
USER portal
EXPOSE 8000
CMD ["gunicorn", "portal.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "60"]
