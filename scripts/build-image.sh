#!/usr/bin/env bash
# Build the production image with Debian's podman (as root), without Docker Hub: the base is a
# Debian 12 root file system made by debootstrap from Debian's mirror, imported once as
# localhost/sso-bridge-base:bookworm. With access to Docker Hub, `docker build .` works too
# (the Dockerfile's default base is debian:bookworm-slim).
#   bash scripts/build-image.sh [TAG]          (default: localhost/sso-bridge:latest)
# Environment: PODMAN_STORAGE_DRIVER (default vfs, which works where overlay cannot),
# DEBIAN_MIRROR (default http://deb.debian.org/debian), PIP_CERT (a CA bundle for PyPI;
# default the system's, mounted into the build only).
set -euo pipefail
cd "$(dirname "$0")/.."

TAG=${1:-localhost/sso-bridge:latest}
BASE=localhost/sso-bridge-base:bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
CA=${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}
podman_() { podman --storage-driver "${PODMAN_STORAGE_DRIVER:-vfs}" "$@"; }

if ! podman_ image exists "$BASE"; then
  echo "build-image: making $BASE with debootstrap from $MIRROR"
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$root" "$MIRROR" >/dev/null
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  chmod 0755 "$root"  # mktemp made it 0700: the image's "/" would shut out its user
  tar -C "$root" -c . | podman_ import --message "debootstrap bookworm minbase" - "$BASE" >/dev/null
fi

# chroot isolation: RUN steps need no OCI runtime or cgroups; host network for PyPI. No
# intermediate images (--layers=false): with vfs each would be a full copy of the tree.
podman_ build --format docker --isolation chroot --network host --layers=false \
  --ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" \
  --build-arg BASE_IMAGE="$BASE" \
  --volume "$CA:/run/build-ca.crt:ro" --build-arg PIP_CERT=/run/build-ca.crt \
  --tag "$TAG" . >&2
# The image this tag named before is now nameless: remove it (only sso-bridge images).
podman_ image prune --force --filter label=org.opencontainers.image.title=sso-bridge >/dev/null
echo "build-image: built $TAG"
