#!/usr/bin/env bash
# test_style.sh: formatting (the checked-in .clang-format) and cppcheck over
# every tracked C file. Both must be silent.
set -euo pipefail
cd "${SYNKRO_SOURCE_DIR:?}"
mapfile -t files < <(git ls-files '*.c' '*.h' 2>/dev/null || true)
if [[ ${#files[@]} -eq 0 ]]; then
  mapfile -t files < <(find base db crm model sync handlers server tests bench -name '*.[ch]' 2>/dev/null)
fi
clang-format --dry-run --Werror "${files[@]}"
mapfile -t src < <(printf '%s\n' "${files[@]}" | grep -E '^(base|db|crm|model|sync|handlers|server)/.*\.c$' || true)
cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
  --inline-suppr --std=c11 -I . -I "${SYNKRO_BUILD_DIR:?}/generated" \
  --suppress=missingIncludeSystem "${src[@]}"
echo "2 passed, 0 failed"
