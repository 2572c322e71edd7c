#!/usr/bin/env bash
# image.sh: builds and tests synkro's container image with docker or podman (`make image`,
# `make image-test`).
#
#   scripts/image.sh build   build docker/Dockerfile from this checkout as $SYNKRO_IMAGE
#   scripts/image.sh test    build it from a clean context (`git archive HEAD` in a temp dir, so
#                            nothing but committed sources reaches the image), then run
#                            `synkro version`, `synkro config check` and a /healthz probe in it
#
# Environment: SYNKRO_ENGINE (docker or podman; default: the first whose service answers),
# SYNKRO_IMAGE (tag, default synkro:local), BASE_IMAGE and RUNTIME_IMAGE (the Dockerfile's build
# arguments, e.g. an image made locally with debootstrap where no registry is reachable).
# podman builds in docker image format (--format docker) so the HEALTHCHECK is kept.
# Exit status 77 (reported as skipped by ctest) when no engine can run here, with the reason.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
image=${SYNKRO_IMAGE:-synkro:local}
mode=${1:-build}

# Picks a working engine into $engine, or explains on stderr why there is none and exits 77.
pick_engine() {
  local reasons=() candidates=(docker podman) e out
  [[ -n ${SYNKRO_ENGINE:-} ]] && candidates=("$SYNKRO_ENGINE")
  for e in "${candidates[@]}"; do
    if ! command -v "$e" >/dev/null 2>&1; then
      reasons+=("$e: not installed")
      continue
    fi
    if out=$(timeout 20 "$e" info 2>&1 >/dev/null); then
      engine=$e
      return 0
    fi
    reasons+=("$e: installed but cannot run containers ($(echo "$out" | grep -v '^$' | tail -1))")
  done
  echo "image.sh: no container engine can run here:" >&2
  printf '  - %s\n' "${reasons[@]}" >&2
  echo "  install docker (with its daemon running) or podman, or set SYNKRO_ENGINE" >&2
  exit 77
}

build_image() {
  local context=$1
  local -a args=(build -f "$context/docker/Dockerfile" -t "$image")
  [[ $engine == podman ]] && args+=(--format docker)
  [[ -n ${BASE_IMAGE:-} ]] && args+=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
  [[ -n ${RUNTIME_IMAGE:-} ]] && args+=(--build-arg "RUNTIME_IMAGE=$RUNTIME_IMAGE")
  echo "image.sh: $engine ${args[*]} $context" >&2
  "$engine" "${args[@]}" "$context"
}

test_image() {
  local tmp
  tmp=$(mktemp -d /tmp/synkro-image.XXXXXX)
  local name="synkro-image-test-$$"
  trap '"$engine" rm -f "$name" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
  git -C "$root" archive --format=tar HEAD | tar -x -C "$tmp"
  build_image "$tmp"
  "$engine" run --rm "$image" version | grep '^synkro ' || { echo "FAIL: synkro version" >&2; exit 1; }
  "$engine" run --rm -e DATABASE_URL=postgresql://synkro@postgres:5432/synkro \
    -e HUBSPOT_PORTAL_ID= "$image" config check >"$tmp/check" 2>&1 ||
    { cat "$tmp/check" >&2; echo "FAIL: synkro config check" >&2; exit 1; }
  grep -q '^configuration is valid$' "$tmp/check" || { echo "FAIL: config check" >&2; exit 1; }
  # /healthz answers without a database (liveness); the probe runs inside the container
  "$engine" run -d --name "$name" -e DATABASE_URL=postgresql://synkro@127.0.0.1:1/synkro \
    "$image" serve --no-migrate >/dev/null
  local ok=0
  for _ in $(seq 1 30); do
    if "$engine" exec "$name" curl -fsS http://127.0.0.1:8080/healthz >/dev/null 2>&1; then
      ok=1
      break
    fi
    sleep 1
  done
  [[ $ok -eq 1 ]] || { "$engine" logs "$name" >&2 || true; echo "FAIL: /healthz" >&2; exit 1; }
  echo "image.sh: $image passed version, config check and /healthz"
}

pick_engine
case $mode in
  build) build_image "$root" ;;
  test) test_image ;;
  *) echo "usage: scripts/image.sh build|test" >&2; exit 2 ;;
esac
