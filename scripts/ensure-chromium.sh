#!/usr/bin/env bash
# The browser tests drive Debian's chromium; install it when it is missing.
set -eu
command -v chromium >/dev/null 2>&1 && exit 0
echo "installing chromium (Debian package) for the browser tests"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium >/dev/null
