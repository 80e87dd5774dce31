#!/usr/bin/env bash
# Set up everything sso-bridge needs on a fresh Debian machine: the Debian packages (real IdP,
# Redis, Chromium), then a Python virtual environment in .venv with the pinned dependencies.
# Idempotent: a second run installs nothing new. Run as root (or with sudo available).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  simplesamlphp php-cli php-xml php-mbstring php-curl php-sqlite3   # the real IdP (tests, demo)
  redis-server                                                      # shared state, several instances
  chromium                                                          # the browser test
  nginx-light apache2                                               # reverse-proxy tests; the Sakai cluster's balancer
  podman runc debootstrap                                           # the image, built and run
  docker-compose                                                    # checks deploy/compose.yaml
  python3 python3-venv                                              # the .venv (fresh Debian)
  openssl curl ca-certificates procps                               # pgrep in the server tests
)
# Callers may add packages of their own (bench/setup.sh adds Shibboleth SP and Apache).
read -r -a EXTRA <<< "${EXTRA_APT_PACKAGES:-}"
APT_PACKAGES+=("${EXTRA[@]}")
PYTHON=${PYTHON:-python3}

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ ! -x .venv/bin/python ]]; then
  echo "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-test.lock
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
.venv/bin/python -c "from sso_bridge.deps import check_libxml2; print('setup: ok, libxml2', check_libxml2())"
