#!/usr/bin/env bash
# Install the Debian 12 packages the project needs to build, test and run the
# demo, skipping those already installed. Needs root (or sudo) only when
# something is missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang libclang-rt-14-dev distcc
  libcbor-dev libcap-ng-dev libseccomp-dev check
  bubblewrap fuse-overlayfs busybox-static util-linux iproute2 python3
  scdoc debhelper dpkg-dev fakeroot lintian
  python3-cbor2 python3-pytest
  cargo rustc librust-libc-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root to install: ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
