# syntax=docker/dockerfile:1
#
# roller reminders: one image that runs migrations, the scheduler and the HTTP API
# (run_service.py). Build:   docker build -t roller-reminders .
# Run:     docker run -p 8080:8080 -v reminders-data:/app/data \
#              -e REMINDERS_ADMIN_TOKEN=... roller-reminders
# See scripts/container-smoke for a Podman build where Docker is not available.
#
# BASE_IMAGE must provide python3 (>= 3.11) with the venv module; both stages use it so the
# virtual environment's interpreter path is the same in the build and the final image.
ARG BASE_IMAGE=python:3.12-slim-bookworm

# ---------------------------------------------------------------------------------------------
# Build stage: dependencies and the project installed into a virtual environment at /opt/venv
# ---------------------------------------------------------------------------------------------
FROM ${BASE_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src

# Dependencies first (taken from pyproject.toml), so source edits don't reinstall them.
# The optional build secret "ca" is a CA bundle for pip where the network re-signs TLS
# (docker build --secret id=ca,src=$SSL_CERT_FILE); without it the step uses the image's CAs.
COPY pyproject.toml ./
RUN --mount=type=secret,id=ca,required=false \
    if [ -f /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi && \
    python3 -m venv /opt/venv && \
    python3 -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt && \
    /opt/venv/bin/pip install -r /tmp/requirements.txt

# The project itself (.dockerignore keeps the context small).
COPY . ./
RUN --mount=type=secret,id=ca,required=false \
    if [ -f /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi && \
    /opt/venv/bin/pip install --no-deps . && \
    /opt/venv/bin/python -c "import reminders, config, pycurl"

# ---------------------------------------------------------------------------------------------
# Final stage: the base image, the virtual environment and run_service.py; runs as non-root
# ---------------------------------------------------------------------------------------------
FROM ${BASE_IMAGE}

# Everything that does not depend on the code comes first, so a code change rebuilds only the
# last two layers (this matters with Podman's vfs storage, which copies the tree per layer).
LABEL org.opencontainers.image.title="roller-reminders" \
      org.opencontainers.image.description="SMS prep reminders for an at-home skin-roller routine"

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    REMINDERS_PORT=8080

# The service user, and its data directory: the default database is sqlite:///data/reminders.db
# relative to WORKDIR, i.e. /app/data. The directory is created and owned by the service user
# before VOLUME so that a new named volume starts out writable by that user.
RUN groupadd --gid 10001 reminders && \
    useradd --uid 10001 --gid reminders --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin reminders && \
    mkdir -p /app/data && chown reminders:reminders /app/data && chmod 0750 /app/data
WORKDIR /app
VOLUME ["/app/data"]

EXPOSE 8080

# No curl in the image: the venv's python checks /healthz (non-2xx or no answer -> unhealthy).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/opt/venv/bin/python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('REMINDERS_PORT', '8080') + '/healthz', timeout=4)"]

# run_service.py is PID 1: it handles SIGTERM itself and exits 0 within 10 s.
STOPSIGNAL SIGTERM
CMD ["/opt/venv/bin/python", "/app/run_service.py"]

USER 10001:10001

# The code, owned by root and read-only to the service user.
COPY --from=build /opt/venv /opt/venv
COPY run_service.py ./
