# Production image: gunicorn serving Django; the same image runs the Celery worker and beat.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# postgresql-client: pg_dump and pg_restore for `manage.py backup`/`restore`; Debian bookworm's is
# 15, the major version of the postgres service (pg_dump must not be older than the server).
RUN apt-get update && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core gettext postgresql-client \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# The app's bytecode, compiled once here: with PYTHONDONTWRITEBYTECODE (the app user cannot write
# to /app anyway) every process start would otherwise compile the project's sources again.
RUN python -m compileall -q -j 0 /app
# collectstatic with the production storage (manifest); it runs only the staticfiles checks.
RUN DEBUG=0 SECRET_KEY=build-only-not-secret ALLOWED_HOSTS=build python manage.py collectstatic --noinput
# The mount points of compose's media and backups volumes exist here owned by ketatrial: a new named
# volume takes the owner of the image's directory, so the app can write to it.
RUN useradd --create-home ketatrial && mkdir -p /app/var/media /app/var/backups && chown -R ketatrial /app/var
USER ketatrial
EXPOSE 8000
CMD ["gunicorn", "ketatrial.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "900", "--access-logfile", "-"]
