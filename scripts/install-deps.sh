#!/usr/bin/env bash
# Installs the Debian 12 packages flowrun needs to build and test.
# Idempotent and quick: apt-get runs only when something is missing.
# `install-deps.sh fuzz` also installs clang for `make fuzz`.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config make
  libyaml-cpp-dev libcpp-httplib-dev nlohmann-json3-dev libcurl4-openssl-dev
  libspdlog-dev libcli11-dev libgtest-dev libgmock-dev libpcre2-dev
)
if [[ "${1:-}" == "fuzz" ]]; then
  packages+=(clang libclang-rt-14-dev)  # libFuzzer and the sanitizer runtimes
fi

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$package")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "install-deps: installing ${missing[*]}"
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
