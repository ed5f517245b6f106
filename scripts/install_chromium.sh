#!/bin/sh
# Install Debian's chromium for the HTML-player test (tests/dancegen/test_export_html.py) when it is missing.
# Never fails the build: without root or apt-get it prints why and exits 0 (the test then skips with a reason).
set -u
if [ -x /usr/bin/chromium ]; then
    echo "chromium: already installed ($(/usr/bin/chromium --version 2>/dev/null | tail -n 1))"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "chromium: not installed and apt-get is unavailable; the HTML player test will be skipped"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "chromium: not installed and no root rights for apt-get; the HTML player test will be skipped"
        exit 0
    fi
fi
if $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null; then
    echo "chromium: installed ($(/usr/bin/chromium --version 2>/dev/null | tail -n 1))"
else
    echo "chromium: apt-get install failed; the HTML player test will be skipped"
fi
exit 0
