#!/usr/bin/env bash
# Everything the benchmark needs on a fresh Debian 12 machine: the project's own setup
# (scripts/setup.sh: .venv with the pinned dependencies), then Shibboleth SP 3 and Apache, the
# reference peer of part 3. Idempotent. Run as root (or with sudo available); the benchmark
# itself must run as root, because Apache drops to www-data and shibd is started directly.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

APT_PACKAGES=(apache2 libapache2-mod-shib shibboleth-sp-utils)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  echo "bench setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Debian packages enable and start the system-wide apache2 and shibd services; the
# benchmark runs its own instances on free loopback ports and does not need them.
echo "bench setup: ok ($(shibd -v 2>/dev/null | head -1), $(apache2 -v | head -1))"
