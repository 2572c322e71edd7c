#!/usr/bin/env bash
# deps.sh: installs the Debian packages synkro needs to build, test and run,
# and only those that are missing (a second run needs no network).
# As non-root with packages missing: prints the exact apt-get line, exits 1.
#   scripts/deps.sh            build + run + test packages
#   scripts/deps.sh --build    only what compiling needs (Docker build stage)
#   scripts/deps.sh --runtime  only what the built binary needs (Docker image)
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config git
  libmicrohttpd-dev libcurl4-openssl-dev libjson-c-dev libpq-dev libssl-dev libxml2-dev)
dev_pkgs=(libcmocka-dev postgresql-15 postgresql-client-15 curl ca-certificates
  clang-format cppcheck util-linux clang libclang-rt-14-dev chromium)
runtime_pkgs=(libmicrohttpd12 libcurl4 libjson-c5 libpq5 libssl3 libxml2 ca-certificates curl)

if [[ "${1:-}" == "--runtime" ]]; then
  pkgs=("${runtime_pkgs[@]}")
elif [[ "${1:-}" == "--build" ]]; then
  pkgs=("${build_pkgs[@]}")
else
  pkgs=("${build_pkgs[@]}" "${dev_pkgs[@]}")
  [[ -n "${SYNKRO_EXTRA_PKGS:-}" ]] && read -r -a extra <<<"$SYNKRO_EXTRA_PKGS" && pkgs+=("${extra[@]}")
fi

missing=()
for p in "${pkgs[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "synkro needs these Debian packages, which are not installed:" >&2
  echo "  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists when they are missing or older than a day.
if [[ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]]; then
  apt-get update -qq
fi
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
