#!/usr/bin/env bash
# console_screenshots.sh: copies the console's screenshots, taken by the browser tests
# (ctest browser.console, into <build>/artifacts/screenshots/), to docs/console/ for
# docs/console.md. Failure shots (FAILED-*) are left out. PNGs are made smaller with pngquant
# when it is installed. Refuses (exit 1) when the copies would pass 1.5 MB in all.
#   scripts/console_screenshots.sh [build-dir]     (default: build-test)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-test}
src=$build/artifacts/screenshots
[[ -d $src ]] || { echo "no screenshots in $src: run SYNKRO_TEST_FILTER=browser make test first" >&2; exit 1; }
mkdir -p docs/console
n=0
for f in "$src"/*.png; do
  name=$(basename "$f")
  [[ $name == FAILED-* ]] && continue
  if command -v pngquant >/dev/null; then
    pngquant --force --quality=70-95 --output "docs/console/$name" "$f"
  else
    cp "$f" "docs/console/$name"
  fi
  n=$((n + 1))
done
total=$(du -cb docs/console/*.png | tail -1 | cut -f1)
echo "copied $n screenshots to docs/console/ ($total bytes in all)"
if ((total > 1500000)); then
  echo "docs/console/ is over 1.5 MB: install pngquant, or take fewer screenshots" >&2
  exit 1
fi
