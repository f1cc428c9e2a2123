#!/usr/bin/env bash
# Writes requirements-dev.lock: exact versions of everything requirements-dev.txt allows, one
# lock for every platform (environment markers for macOS arm64, Linux, Python 3.11+), made by
# uv's universal resolver. CI installs it beside the newest versions (.ci/run), so a release
# that breaks the suite shows as a red "newest" run while the lock stays green.
# Where pip is capped at the torch on this disk (/etc/xdg/pip), the lock keeps that cap.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cap=()
[ -f /etc/xdg/pip/constraints.txt ] && cap=(-c /etc/xdg/pip/constraints.txt)
uvx=${UV:-uv}
"$uvx" pip compile --quiet --universal --python-version 3.11 --no-header \
    requirements-dev.txt "${cap[@]}" -o requirements-dev.lock.tmp
{
    echo "# Exact versions for every platform (tools/lock.sh, uv pip compile --universal)."
    echo "# Install: pip install -r requirements-dev.lock"
    cat requirements-dev.lock.tmp
} > requirements-dev.lock
rm requirements-dev.lock.tmp
