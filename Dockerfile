# fitbot container image; usage and environment variables: README.md, section "Docker"
#   docker build -t fitbot .
# tests/test_dockerfile.py lints this file with hadolint and replays the build stage's
# COPY/RUN pip lines in a clean virtual environment, so keep those lines plain.

# ---- build stage: a self-contained virtual environment in /opt/venv ----------------------
FROM python:3.11-slim-bookworm AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PATH=/opt/venv/bin:$PATH

WORKDIR /src
RUN python -m venv /opt/venv

# Dependencies first (exact versions and hashes from the lock, wheels only, so no compiler is
# needed); this layer stays cached until requirements.lock changes.
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes --only-binary=:all: -r requirements.lock

# Then the project itself, non-editable, without touching the locked dependencies.
# README.md* is a glob so the build works whether or not the readme is in the context.
COPY pyproject.toml README.md* ./
COPY bot/ ./bot/
RUN pip install --no-cache-dir --no-deps .

# ---- runtime stage: the venv, the knowledge base, a non-root user --------------------------
FROM python:3.11-slim-bookworm AS runtime

# FITBOT_KNOWLEDGE: the baked-in knowledge base; mount a directory over /app/knowledge to
#   replace it. FITBOT_STATE: per-chat context and unanswered questions, on the /data volume.
# FITBOT_WEBHOOK_LISTEN/PORT, FITBOT_METRICS_LISTEN: in a container the servers must listen on
#   all interfaces (the bot's own default is 127.0.0.1, unreachable through a published port).
# FITBOT_METRICS_PORT: /healthz and /metrics in polling and webhook mode alike; the
#   HEALTHCHECK probes it, so it means the same in both modes.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    FITBOT_KNOWLEDGE=/app/knowledge \
    FITBOT_STATE=/data/fitbot.sqlite3 \
    FITBOT_WEBHOOK_LISTEN=0.0.0.0 \
    FITBOT_WEBHOOK_PORT=8443 \
    FITBOT_METRICS_LISTEN=0.0.0.0 \
    FITBOT_METRICS_PORT=9090

RUN groupadd --system --gid 10001 fitbot \
    && useradd --system --no-log-init --uid 10001 --gid fitbot \
        --home-dir /data --no-create-home --shell /usr/sbin/nologin fitbot \
    && mkdir -p /data \
    && chown fitbot:fitbot /data

COPY --from=build /opt/venv /opt/venv
COPY knowledge/ /app/knowledge/

WORKDIR /app
VOLUME ["/data"]
USER 10001:10001

# 8443: webhook listener (behind an HTTPS reverse proxy); 9090: metrics and health.
EXPOSE 8443 9090

# Healthy only when the bot answers 200 on /healthz (knowledge loaded, bot initialised).
# FITBOT_HEALTHCHECK_URL overrides the probed URL (e.g. the webhook port's /healthz);
# proxies are bypassed so an HTTP(S)_PROXY meant for Telegram does not capture the probe.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request as r; url = os.environ.get('FITBOT_HEALTHCHECK_URL') or 'http://127.0.0.1:%s/healthz' % (os.environ.get('FITBOT_METRICS_PORT') or '9090'); sys.exit(0 if r.build_opener(r.ProxyHandler({})).open(url, timeout=4).status == 200 else 1)"]

CMD ["fitbot", "run"]
