#!/usr/bin/env bash
# Installs the end-to-end tests' real clients from PyPI into a private venv:
# python-hl7 (mllp_send), hl7apy (independent structural checks), pytest,
# aiosmtpd (a real SMTP server receiving the one-time codes).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=tests/e2e/.venv
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check -r tests/e2e/requirements.txt
