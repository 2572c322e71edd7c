#!/usr/bin/env bash
# test_env_example.sh: docker/synkro.env.example lists every variable of `synkro config docs`,
# is refused by `synkro config check` as shipped (its <CHANGE ...> placeholders are not values),
# and passes it, without warnings, once the placeholders are filled in. The file is read the way
# docker's env_file reads it (NAME=value lines, no shell), and empty values mean "the default".
set -euo pipefail
src=${SYNKRO_SOURCE_DIR:?}
bin=${SYNKRO_BIN:?}
example="$src/docker/synkro.env.example"
fail() { echo "FAIL: $*" >&2; exit 1; }

# every variable is present (DATABASE_URL may be a comment: compose sets it)
missing=0
while read -r name; do
  grep -Eq "^(# )?$name=" "$example" || { echo "synkro.env.example lacks $name" >&2; missing=1; }
done < <("$bin" config docs | sed -n 's/^| `\([A-Z0-9_]*\)` |.*/\1/p')
[[ $missing -eq 0 ]] || fail "add the missing variables to docker/synkro.env.example"

# runs `synkro config check` with only the file's variables (and a database URL)
check() {
  local file=$1
  local -a vars=(PATH="$PATH" DATABASE_URL=postgresql://synkro:pw@postgres:5432/synkro)
  while IFS= read -r line; do
    [[ $line =~ ^([A-Z0-9_]+)=(.*)$ ]] && vars+=("${BASH_REMATCH[1]}=${BASH_REMATCH[2]}")
  done <"$file"
  env -i "${vars[@]}" "$bin" config check
}

out=$(mktemp -d /tmp/synkro-env-example.XXXXXX)
trap 'rm -rf "$out"' EXIT

# as shipped: refused, naming the placeholders that are not values
if check "$example" >"$out/as-shipped" 2>&1; then
  fail "config check accepts the unfilled example"
fi
grep -q 'SALESFORCE_ORG_ID: .* is not a 15- or 18-character Salesforce id' "$out/as-shipped" ||
  fail "the unfilled SALESFORCE_ORG_ID is not reported: $(cat "$out/as-shipped")"

# filled in: one value per placeholder, as an operator would
fill() {
  case $1 in
    SYNKRO_PUBLIC_BASE_URL) echo "https://synkro.example.com" ;;
    SYNKRO_ADMIN_TOKEN | SYNKRO_SECRET_KEY) openssl rand -hex 32 ;;
    SYNKRO_SF_ENDPOINT_TOKEN) openssl rand -hex 24 ;;
    SALESFORCE_ORG_ID) echo "00D5g000004abcdEAA" ;;
    SALESFORCE_CLIENT_ID) echo "3MVG9consumerkey" ;;
    SALESFORCE_USERNAME) echo "synkro-integration@example.com" ;;
    HUBSPOT_PORTAL_ID) echo "62515" ;;
    HUBSPOT_CLIENT_SECRET) echo "0a1b2c3d-0000-4000-8000-0123456789ab" ;;
    HUBSPOT_ACCESS_TOKEN) echo "pat-na1-00000000-0000-4000-8000-000000000000" ;;
    *) return 1 ;;
  esac
}
while IFS= read -r line; do
  if [[ $line =~ ^([A-Z0-9_]+)=.*'<CHANGE' ]]; then
    value=$(fill "${BASH_REMATCH[1]}") || fail "no fill-in value for placeholder ${BASH_REMATCH[1]}"
    echo "${BASH_REMATCH[1]}=$value"
  else
    echo "$line"
  fi
done <"$example" >"$out/synkro.env"
grep -q '^[A-Z0-9_]*=.*<CHANGE' "$out/synkro.env" && fail "a placeholder was left"
check "$out/synkro.env" >"$out/filled" 2>&1 || fail "config check refuses the filled example: $(cat "$out/filled")"
grep -q '^configuration is valid$' "$out/filled" || fail "no 'configuration is valid': $(cat "$out/filled")"
grep -q '^warnings' "$out/filled" && fail "the filled example warns: $(cat "$out/filled")"
grep -q '^SYNKRO_LISTEN=0.0.0.0:8080  # set$' "$out/filled" || fail "SYNKRO_LISTEN is not 0.0.0.0:8080"
grep -q '^HUBSPOT_RATE_LIMIT_PER_10S=190  # empty, default$' "$out/filled" ||
  fail "an empty value does not fall back to its default"
echo "1 passed, 0 failed"
