#!/usr/bin/env bash
# A local stand-in for the Containerfile's base image (python:3.11-slim-bookworm) when no
# container registry can be reached: a minimal Debian bookworm root filesystem made with
# debootstrap from Debian's mirror, with Debian's Python 3.11 (python3, python3-venv) and CA
# certificates, committed with buildah as $BASE_IMAGE. Needs root, debootstrap and buildah.
#
#   deploy/image/debian-base.sh            # -> localhost/silobridge-base:3.11-bookworm
#   make image PYTHON_IMAGE=localhost/silobridge-base:3.11-bookworm
set -euo pipefail

BASE_IMAGE=${BASE_IMAGE:-localhost/silobridge-base:3.11-bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE=${SILOBRIDGE_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/silobridge/image}
ROOTFS=$CACHE/bookworm-python3.11
STORAGE=(--storage-driver "${STORAGE_DRIVER:-vfs}")

for tool in debootstrap buildah; do
  command -v "$tool" >/dev/null || { echo "debian-base.sh: $tool not found (apt-get install $tool)" >&2; exit 1; }
done
if buildah "${STORAGE[@]}" inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
  echo "$BASE_IMAGE exists"; exit 0
fi

if [ ! -f "$ROOTFS/.complete" ]; then
  rm -rf "$ROOTFS" && mkdir -p "$ROOTFS"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$ROOTFS" "$MIRROR"
  # what the official slim image leaves out: apt lists and caches, docs
  chroot "$ROOTFS" apt-get clean
  rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/*
  touch "$ROOTFS/.complete"
fi

ctr=$(buildah "${STORAGE[@]}" from scratch)
trap 'buildah "${STORAGE[@]}" rm "$ctr" >/dev/null 2>&1 || true' EXIT
mnt=$(buildah "${STORAGE[@]}" mount "$ctr")
tar -C "$ROOTFS" --exclude=./.complete -cf - . | tar -C "$mnt" -xf -
buildah "${STORAGE[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env LANG=C.UTF-8 --cmd python3 \
  --label org.opencontainers.image.description="Debian bookworm minbase with Debian's Python 3.11 (debootstrap)" "$ctr"
buildah "${STORAGE[@]}" commit --rm "$ctr" "$BASE_IMAGE" >/dev/null
trap - EXIT
echo "$BASE_IMAGE"
