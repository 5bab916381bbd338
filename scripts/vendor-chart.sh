#!/usr/bin/env bash
# Refresh the vendored Chart.js of the admin pages from the npm registry.
# Not part of the build: the result is committed, so nothing is fetched at run time.
# Usage: scripts/vendor-chart.sh [version]   (default: the version in VENDORED.md)
set -euo pipefail
cd "$(dirname "$0")/.."
dest=src/previewgate/admin_pages/static
version=${1:-$(sed -n 's/^- version: *//p' "$dest/VENDORED.md")}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "chart.js@$version" >/dev/null && tar xzf chart.js-*.tgz)
grep -q '"license": "MIT"' "$work/package/package.json"
cp "$work/package/dist/chart.umd.min.js" "$dest/chart.umd.min.js"
sha=$(sha256sum "$dest/chart.umd.min.js" | cut -d' ' -f1)
echo "chart.js $version -> $dest/chart.umd.min.js (sha256 $sha); update VENDORED.md"
