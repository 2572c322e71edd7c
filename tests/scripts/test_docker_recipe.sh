#!/usr/bin/env bash
# test_docker_recipe.sh: no Docker engine runs on our machines, so this
# checks the image recipe the only way we can: the Dockerfile calls the same
# scripts `make build` uses, those scripts build a release binary from a
# clean directory, and every shared library that binary needs belongs to a
# package that `deps.sh --runtime` installs in the final stage.
set -euo pipefail
src=${SYNKRO_SOURCE_DIR:?}
cd "$src"
fail() { echo "FAIL: $*" >&2; exit 1; }

grep -q 'scripts/deps.sh --build' docker/Dockerfile || fail "Dockerfile does not call scripts/deps.sh --build"
grep -q 'scripts/build.sh release' docker/Dockerfile || fail "Dockerfile does not call scripts/build.sh release"
grep -q 'deps.sh --runtime' docker/Dockerfile || fail "Dockerfile does not install runtime packages with deps.sh"
grep -q '^USER synkro' docker/Dockerfile || fail "Dockerfile does not drop root"
grep -q 'HEALTHCHECK' docker/Dockerfile && grep -q 'CMD curl -fsS http://127.0.0.1:8080/healthz' docker/Dockerfile || fail "Dockerfile has no /healthz HEALTHCHECK"
grep -q '^ARG BASE_IMAGE=debian:bookworm$' docker/Dockerfile || fail "Dockerfile's BASE_IMAGE is not Debian bookworm by default"
grep -q '^ARG RUNTIME_IMAGE=debian:bookworm-slim$' docker/Dockerfile || fail "Dockerfile's RUNTIME_IMAGE is not bookworm-slim by default"
grep -q '^FROM \${BASE_IMAGE} AS build$' docker/Dockerfile || fail "the build stage does not use BASE_IMAGE"
grep -q '^FROM \${RUNTIME_IMAGE}$' docker/Dockerfile || fail "the final stage does not use RUNTIME_IMAGE"
grep -q 'scripts/image.sh build' Makefile && grep -q 'scripts/image.sh test' Makefile || fail "make image/image-test do not call scripts/image.sh"
grep -q -- '--format docker' scripts/image.sh || fail "podman builds are not in docker format (the HEALTHCHECK would be dropped)"
for f in docker/compose.yml docker/synkro.env.example; do [[ -f $f ]] || fail "$f missing"; done

# the build stage's exact commands, in a scratch build directory
out=$(mktemp -d /tmp/synkro-docker-recipe.XXXXXX)
trap 'rm -rf "$out"' EXIT
scripts/deps.sh --build
scripts/build.sh release "$out/build" >/dev/null
bin="$out/build/synkro"
[[ -x "$bin" ]] || fail "scripts/build.sh release produced no binary"
"$bin" version | grep -q '^synkro ' || fail "the release binary does not run"

# every library the binary links directly must come from a runtime package
# (their own dependencies are installed by apt along with them)
read -r -a runtime < <(bash -c 'source <(sed -n "s/^runtime_pkgs=(\(.*\))$/echo \1/p" scripts/deps.sh)')
[[ ${#runtime[@]} -gt 0 ]] || fail "cannot read runtime_pkgs from scripts/deps.sh"
missing=0
checked=0
while read -r needed; do
  lib=$(ldd "$bin" | awk -v n="$needed" '$1 == n {print $3}')
  [[ -n "$lib" ]] || fail "ldd cannot resolve $needed"
  lib=$(realpath "$lib")
  pkg=$( (dpkg -S "$lib" 2>/dev/null || dpkg -S "${lib#/usr}" 2>/dev/null || true) | head -1 | cut -d: -f1)
  [[ -n "$pkg" ]] || fail "library $lib belongs to no Debian package"
  case "$pkg" in libc6|libgcc-s1) continue ;; esac
  checked=$((checked + 1))
  if [[ " ${runtime[*]} " != *" $pkg "* ]]; then
    echo "library $needed (package $pkg) is not installed by deps.sh --runtime" >&2
    missing=1
  fi
done < <(objdump -p "$bin" | awk '/NEEDED/ {print $2}')
[[ $checked -ge 3 ]] || fail "expected the binary to link at least 3 libraries, saw $checked"
[[ $missing -eq 0 ]] || fail "runtime package list is incomplete"
echo "1 passed, 0 failed"
