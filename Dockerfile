# sso-bridge under gunicorn, from the same pinned dependencies as CI (requirements.lock).
#   docker build -t sso-bridge .
#   docker run -p 8000:8000 \
#     -v /etc/sso-bridge:/config:ro -v /run/secrets/sso-bridge:/run/secrets:ro \
#     -e SSO_BRIDGE_SP_KEY_FILE=/run/secrets/sp.key \
#     -e SSO_BRIDGE_SECRET_KEY_FILE=/run/secrets/flask-secret \
#     -e SSO_BRIDGE_SAKAI_PASSWORD_FILE=/run/secrets/sakai-password \
#     sso-bridge
# The configuration (bridge.toml, the SP certificate, IdP metadata) is mounted at /config;
# secrets are mounted files named by *_FILE variables. Nothing secret is in the image.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SSO_BRIDGE_CONFIG=/config/bridge.toml

RUN groupadd --system --gid 10001 bridge \
    && useradd --system --uid 10001 --gid bridge --home-dir /app --shell /usr/sbin/nologin bridge \
    && mkdir -p /var/lib/sso-bridge && chown bridge:bridge /var/lib/sso-bridge

WORKDIR /app
COPY requirements.lock ./
RUN pip install -r requirements.lock
COPY pyproject.toml README.md ./
COPY sso_bridge ./sso_bridge
RUN pip install --no-deps . \
    && python -c "from sso_bridge.deps import check_libxml2; check_libxml2()"

USER bridge
EXPOSE 8000
VOLUME ["/var/lib/sso-bridge"]
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"
# gunicorn with the settings' workers/threads/timeouts; SIGTERM finishes in-flight logins.
CMD ["sso-bridge", "serve", "--bind", "0.0.0.0:8000"]
