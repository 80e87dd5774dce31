#!/usr/bin/env bash
# Everything the benchmark needs on a fresh Debian 12 machine: the project's own setup
# (scripts/setup.sh: .venv with the pinned dependencies), then Shibboleth SP 3 and Apache, the
# reference peer of part 3. Idempotent. Run as root (or with sudo available); the benchmark
# itself must run as root, because Apache drops to www-data and shibd is started directly.
set -euo pipefail
cd "$(dirname "$0")/.."

EXTRA_APT_PACKAGES="apache2 libapache2-mod-shib shibboleth-sp-utils" bash scripts/setup.sh
# The Debian packages enable and start the system-wide apache2 and shibd services; the
# benchmark runs its own instances on free loopback ports and does not need them.
echo "bench setup: ok ($(shibd -v 2>/dev/null | head -1), $(apache2 -v | head -1))"
