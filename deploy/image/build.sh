#!/usr/bin/env bash
# `make image`: build deploy/image/Containerfile with docker, podman or buildah, whichever works
# here (a docker client without a reachable engine does not count).
#   IMAGE   repository, default ghcr.io/silobridge/silobridge (the chart's and compose's default)
#   TAG     default: the package version in pyproject.toml (= the chart's appVersion)
#   PYTHON_IMAGE  base of both stages, default python:3.11-slim-bookworm; where no registry is
#           reachable, deploy/image/debian-base.sh makes a local one from Debian's packages.
set -euo pipefail
cd "$(dirname "$0")/../.."
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -1)
IMAGE=${IMAGE:-ghcr.io/silobridge/silobridge}
TAG=${TAG:-$VERSION}
REVISION=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
args=(-f deploy/image/Containerfile -t "$IMAGE:$TAG"
      --build-arg "VERSION=$VERSION" --build-arg "REVISION=$REVISION" --build-arg "CREATED=$CREATED")
[ -n "${PYTHON_IMAGE:-}" ] && args+=(--build-arg "PYTHON_IMAGE=$PYTHON_IMAGE")
# A CA bundle for pip behind a TLS-inspecting proxy (BUILD_CA_BUNDLE, else pip's own PIP_CERT):
# a build secret, so it never lands in a layer. An empty one when there is none.
ca=${BUILD_CA_BUNDLE:-${PIP_CERT:-}}
secret=$(mktemp)
trap 'rm -f "$secret"' EXIT
[ -n "$ca" ] && [ -r "$ca" ] && cat "$ca" > "$secret"
args+=(--secret "id=ca,src=$secret")

if [ -n "${BUILDER:-}" ]; then :
elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then BUILDER=docker
elif command -v podman >/dev/null; then BUILDER=podman
elif command -v buildah >/dev/null; then BUILDER=buildah
else
  echo "make image: no docker engine, podman or buildah here (apt-get install buildah)" >&2; exit 1
fi
echo "make image: $BUILDER -> $IMAGE:$TAG" >&2
case $BUILDER in
  docker) DOCKER_BUILDKIT=1 docker build "${args[@]}" . ;;
  podman) podman build "${args[@]}" . ;;
  # daemonless, no user namespaces needed: chroot isolation, host network for pip, vfs storage
  buildah) buildah --storage-driver "${STORAGE_DRIVER:-vfs}" bud --isolation chroot \
             --network host --layers "${args[@]}" . ;;
  *) echo "make image: unknown BUILDER=$BUILDER" >&2; exit 1 ;;
esac
