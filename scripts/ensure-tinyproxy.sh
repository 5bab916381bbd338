#!/usr/bin/env bash
# The egress proxy tests start Debian's tinyproxy (the executable only, no system service).
set -eu
command -v tinyproxy >/dev/null 2>&1 && exit 0
echo "installing tinyproxy (Debian package tinyproxy-bin) for the egress proxy tests"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq tinyproxy-bin >/dev/null
