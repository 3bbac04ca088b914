#!/usr/bin/env bash
# The django-helpdesk peer for `python bench/load.py --peer django-helpdesk`: a virtualenv of
# its own under .cache/peers/ (nothing of it enters the project's .venv), with the latest
# django-helpdesk from PyPI and gunicorn to serve it. Idempotent: a complete venv is kept.
#
#   bash bench/peers/django_helpdesk/install.sh      # ~1 minute the first time
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
VENV="${PEER_VENV:-$ROOT/.cache/peers/django-helpdesk/venv}"
PYTHON="${PYTHON:-python3}"
# django-helpdesk 2.6.1 is the newest release. Django (5.2 LTS: 6.x needs Python 3.12), DRF and
# gunicorn are pinned to what it was measured with, so that a rerun installs the same peer.
PACKAGES=(django-helpdesk==2.6.1 Django==5.2.19 djangorestframework==3.18.3 gunicorn==27.0.1)
STAMP="$VENV/.installed-$(printf '%s\n' "${PACKAGES[@]}" | cksum | cut -d' ' -f1)"

if [ -f "$STAMP" ]; then
  echo "django-helpdesk peer: already installed in $VENV"
  exit 0
fi
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
"$VENV/bin/pip" install --quiet --disable-pip-version-check "${PACKAGES[@]}"
"$VENV/bin/pip" freeze --disable-pip-version-check > "$VENV/freeze.txt"
touch "$STAMP"
echo "django-helpdesk peer: installed in $VENV ($(grep -ci . "$VENV/freeze.txt") packages, see freeze.txt)"
