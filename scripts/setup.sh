#!/usr/bin/env bash
# Sets petseg up on this machine, doing only what is missing (safe to run before every command):
#   1. Node 20+,  2. npm packages from the lockfile,  3. the TypeScript build (dist/),
#   4. a WebGPU adapter — on Debian without a GPU, Mesa lavapipe from bookworm-backports,
#   5. with --browser: Chromium, for the web page's end-to-end test (Debian's `chromium` package).
set -euo pipefail
cd "$(dirname "$0")/.."
browser=0
[ "${1:-}" = --browser ] && browser=1

say() { echo "[setup] $*" >&2; }
die() {
  echo "[setup] ERROR: $*" >&2
  exit 1
}

major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
[ "$major" -ge 20 ] || die "Node.js 20 or newer is needed (found: $(node --version 2>/dev/null || echo none))."

lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat node_modules/.petseg-lock 2>/dev/null)" != "$lock_hash" ]; then
  # `npm install --no-save` installs the locked versions; `npm ci` is not used because this npm
  # rejects lockfiles that list only this platform's optional rollup binary.
  say "installing npm packages (locked versions)"
  npm install --no-save --no-audit --no-fund --loglevel=error >&2
  echo "$lock_hash" >node_modules/.petseg-lock
fi

npx --no-install tsc -p tsconfig.json || die "TypeScript build failed."

check_adapter() { node scripts/check-adapter.mjs 2>/dev/null; }

# Debian's Chromium (SwiftShader's WebGPU inside) for test/browser.test.ts; playwright-core drives it.
install_browser() {
  [ "$browser" = 1 ] || return 0
  [ -x "${PETSEG_CHROMIUM:-/usr/bin/chromium}" ] && return 0
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    say "Chromium is missing, so the browser test will be skipped: install Debian's 'chromium' package (as root), or set PETSEG_CHROMIUM to a Chromium binary."
    return 0
  fi
  say "installing Chromium (Debian package) for the browser test"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2 ||
    { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2; } ||
    die "could not install chromium."
}

if check_adapter; then
  install_browser
  exit 0
fi

[ "$(uname -s)" = Linux ] || die "No WebGPU adapter. Install or update your GPU driver (Dawn uses Metal on macOS, D3D12 on Windows)."
if [ ! -r /etc/debian_version ] || ! command -v apt-get >/dev/null; then
  die "No WebGPU adapter. This is not a Debian-like system, so set-up cannot install one: install a Vulkan driver
  (a GPU's own, or Mesa's lavapipe CPU driver, version 24 or newer — e.g. 'mesa-vulkan-drivers') and the Vulkan loader (libvulkan1)."
fi
if [ "$(id -u)" -ne 0 ]; then
  die "No WebGPU adapter, and installing one needs root. Run this as root (or with sudo), or install it yourself:
  Debian 12: add the bookworm-backports suite, then: apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1
  newer Debian/Ubuntu: apt-get install mesa-vulkan-drivers libvulkan1
  (Mesa lavapipe is a CPU Vulkan driver; bookworm's own Mesa 22.3 is too old for Dawn.)"
fi

export DEBIAN_FRONTEND=noninteractive
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
if [ "$codename" = bookworm ]; then
  # Use the same Debian mirror apt already uses, with the backports suite (Mesa 25.x).
  mirror=$( (grep -rhoE '^(URIs:|deb) +[^ ]*debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null || true) |
    awk '{print $2}' | grep -v security | head -n1 || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
    say "adding bookworm-backports ($mirror) for Mesa lavapipe"
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$mirror" >/etc/apt/sources.list.d/petseg-backports.sources
  fi
  say "installing Mesa lavapipe (CPU Vulkan driver) from bookworm-backports"
  apt-get update -qq >&2 || die "apt-get update failed."
  apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >&2 ||
    die "could not install mesa-vulkan-drivers from bookworm-backports."
else
  say "installing Mesa lavapipe (CPU Vulkan driver)"
  apt-get update -qq >&2 || die "apt-get update failed."
  apt-get install -y -qq mesa-vulkan-drivers libvulkan1 >&2 || die "could not install mesa-vulkan-drivers."
fi

check_adapter || die "Mesa lavapipe is installed but Dawn still finds no adapter; run 'node scripts/check-adapter.mjs' for details."
install_browser
