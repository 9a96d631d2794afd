# Production image: gunicorn serving Django; the same image runs the Celery worker and beat.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN apt-get update && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core gettext \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# collectstatic with the production storage (manifest); it runs only the staticfiles checks.
RUN DEBUG=0 SECRET_KEY=build-only-not-secret ALLOWED_HOSTS=build python manage.py collectstatic --noinput
RUN useradd --create-home ketatrial && mkdir -p /app/var && chown -R ketatrial /app/var
USER ketatrial
EXPOSE 8000
CMD ["gunicorn", "ketatrial.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "900", "--access-logfile", "-"]
