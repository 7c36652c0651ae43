#!/usr/bin/env bash
# Regenerate deploy/image/requirements.lock: the image's runtime dependencies (pyproject.toml)
# plus the locked setuptools that installs the project (build-requirements.in), every version
# pinned with its hashes, resolved for Python 3.11 on Linux x86_64. Versions are constrained to
# what the project's virtualenv has (the ones the tests ran with) when it exists.
#   make lock                 # after changing dependencies in pyproject.toml
set -euo pipefail
cd "$(dirname "$0")/../.."
CACHE=${SILOBRIDGE_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/silobridge/image}
VENV=${VENV:-.venv}
tools=$CACHE/lock-tools
[ -x "$tools/bin/pip-compile" ] || { python3 -m venv "$tools" && "$tools/bin/pip" install -q pip-tools; }
constraints=()
if [ -x "$VENV/bin/pip" ]; then
  mkdir -p "$CACHE"
  "$VENV/bin/pip" freeze --exclude-editable | grep -iv '^silobridge' > "$CACHE/tested-versions.txt"
  constraints=(-c "$CACHE/tested-versions.txt")
fi
"$tools/bin/pip-compile" -q --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url \
  --no-emit-find-links "${constraints[@]}" --output-file deploy/image/requirements.lock \
  pyproject.toml deploy/image/build-requirements.in
# no paths of the machine that ran it in the committed file
sed -i -E "s#(--constraint=|-c )[^ ]*tested-versions.txt#\1tested-versions.txt#g" deploy/image/requirements.lock
