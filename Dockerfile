# sso-bridge under granian, from the same pinned dependencies as CI (requirements.lock).
# The production image: no demo (sso_bridge/demo), no tests, no benchmark (see .dockerignore).
#
#   docker build -t sso-bridge .                  (or: bash scripts/build-image.sh, podman)
#   docker run -p 8443:8000 \
#     -v /etc/sso-bridge:/config:ro -v /run/secrets/sso-bridge:/run/secrets:ro \
#     -v sso-bridge-state:/var/lib/sso-bridge \
#     -e SSO_BRIDGE_SP_KEY_FILE=/run/secrets/sp.key \
#     -e SSO_BRIDGE_SECRET_KEY_FILE=/run/secrets/flask-secret \
#     -e SSO_BRIDGE_SAKAI_PASSWORD_FILE=/run/secrets/sakai-password \
#     sso-bridge
# /config holds bridge.toml and what it names (the SP certificate, IdP metadata, CA files),
# relative to it: certificate_file = "sp.crt" is /config/sp.crt. Secrets are mounted files
# named by *_FILE variables. Nothing secret is in the image. docs/install.md has it all.
ARG BASE_IMAGE=docker.io/library/debian:bookworm-slim
FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="sso-bridge" \
      org.opencontainers.image.description="SAML single sign-on bridge into Sakai"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/sso-bridge/bin:$PATH \
    SSO_BRIDGE_CONFIG=/config/bridge.toml

# Debian's Python 3.11; a base that already has it (scripts/build-image.sh's) skips apt.
RUN if ! python3 -c "import ensurepip, venv" 2>/dev/null; then \
        apt-get update \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
           python3 python3-venv ca-certificates \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && groupadd --system --gid 10001 bridge \
    && useradd --system --uid 10001 --gid bridge --home-dir /var/lib/sso-bridge \
       --shell /usr/sbin/nologin bridge \
    && mkdir -p /var/lib/sso-bridge /config && chown bridge:bridge /var/lib/sso-bridge

# A CA bundle for PyPI behind a TLS-inspecting proxy, mounted at build time only
# (scripts/build-image.sh); unset, pip uses its own.
ARG PIP_CERT
WORKDIR /opt/sso-bridge/src
COPY requirements.lock ./
RUN python3 -m venv /opt/sso-bridge && pip install -r requirements.lock
COPY pyproject.toml README.md ./
COPY sso_bridge ./sso_bridge
RUN pip install --no-deps . && cd / && rm -rf /opt/sso-bridge/src \
    && python -c "from sso_bridge.deps import check_libxml2; check_libxml2()" \
    && if python -c "import sso_bridge.demo" 2>/dev/null; then \
         echo "the demo must not be in the production image" >&2; exit 1; fi

WORKDIR /var/lib/sso-bridge
USER bridge
# server.bind in /config/bridge.toml (or SSO_BRIDGE_BIND) decides the port; EXPOSE documents
# the example's. The HEALTHCHECK reads the same setting.
EXPOSE 8000
VOLUME ["/var/lib/sso-bridge"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["sso-bridge", "healthcheck"]
# granian with the settings' bind, workers, threads and timeouts; SIGTERM finishes in-flight
# logins.
CMD ["sso-bridge", "serve"]
