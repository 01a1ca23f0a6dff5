# The service in a container: exactly the locked dependencies, run as a user without privileges.
# Not built in CI (no container engine runs there); see docs/PRODUCTION.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MILESTONES_HOST=0.0.0.0 \
    MILESTONES_PORT=8000 \
    MILESTONES_LOG_FORMAT=json \
    MILESTONES_DATABASE_URL=sqlite:////data/milestones.sqlite3

WORKDIR /app
COPY requirements/service.txt requirements/service.txt
RUN pip install --require-hashes -r requirements/service.txt
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-deps . && rm -rf /app/src

RUN useradd --system --uid 10001 --home-dir /data --create-home milestones
USER milestones
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ['MILESTONES_PORT']}/healthz\", timeout=2)"]

ENTRYPOINT ["milestones"]
CMD ["serve", "--wait-for-database", "60"]
