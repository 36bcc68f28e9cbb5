#!/usr/bin/env bash
# Installs the Debian 12 packages fitserve builds and tests with. Idempotent; skips apt when
# everything is already present (so repeated ./test.sh runs need no network).
set -euo pipefail
PKGS=(build-essential cmake ninja-build pkg-config
      libcpp-httplib-dev nlohmann-json3-dev libcli11-dev libpcre2-dev libcurl4-openssl-dev
      libstb-dev libgtest-dev libgmock-dev googletest libbenchmark-dev clang curl nginx-light)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
