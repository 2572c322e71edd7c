#!/usr/bin/env bash
# test_readme_config.sh: the README's configuration table is the one the
# binary prints (`synkro config docs`), row for row.
set -euo pipefail
cd "${SYNKRO_SOURCE_DIR:?}"
missing=0
while IFS= read -r row; do
  if ! grep -qxF -- "$row" README.md; then
    echo "README.md lacks or differs in: $row" >&2
    missing=1
  fi
done < <("${SYNKRO_BIN:?}" config docs)
[[ $missing -eq 0 ]] || { echo "regenerate with: synkro config docs" >&2; exit 1; }
echo "1 passed, 0 failed"
