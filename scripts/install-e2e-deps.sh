#!/usr/bin/env bash
# Installs what `make e2e` needs on Debian 12, and nothing when it is all there:
#   - Debian's chromium (driven headless by playwright-core; no browser download)
#   - Debian's nginx (the tests run their own nginx with their own config and
#     prefix; the package's system service is stopped and disabled so it never
#     holds port 80 or gets in the way)
#   - Node.js and npm, only if missing (the machine image normally ships them)
#   - playwright-core and openai (the official SDK), pinned in tests/e2e/package-lock.json,
#     into tests/e2e/node_modules
# Never runs `npx playwright install`: browsers cannot be downloaded here.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"

installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

missing=()
installed chromium || missing+=(chromium)
installed nginx || missing+=(nginx)
command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
installed fonts-dejavu-core || missing+=(fonts-dejavu-core)  # legible text in screenshots

if [[ ${#missing[@]} -gt 0 ]]; then
  echo "install-e2e-deps: installing ${missing[*]}"
  started=$SECONDS
  $sudo apt-get update -qq
  # --no-install-recommends: chromium runs headless without its recommends
  # (chromium-sandbox, upower, ...); the tests launch it with --no-sandbox.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
  echo "install-e2e-deps: apt-get done in $((SECONDS - started)) s"
  if [[ " ${missing[*]} " == *" nginx "* ]]; then
    # The package starts a system nginx on port 80 where an init system lets it;
    # the tests never use it, so stop it and keep it from starting at boot.
    if [[ -d /run/systemd/system ]]; then
      $sudo systemctl disable --now nginx >/dev/null 2>&1 || true
    else
      $sudo service nginx stop >/dev/null 2>&1 || true
      $sudo update-rc.d nginx disable >/dev/null 2>&1 || true
    fi
  fi
fi

# playwright-core and openai (the official SDK the facade tests use) from the committed lock
# file; skipped when the pinned versions are both present.
stale=()
for package in playwright-core openai; do
  want=$(node -p "require('./tests/e2e/package-lock.json').packages['node_modules/$package'].version")
  have=$(node -p "try { require('./tests/e2e/node_modules/$package/package.json').version } catch (e) { '' }")
  [[ "$have" == "$want" ]] || stale+=("$package $want")
done
if [[ ${#stale[@]} -gt 0 ]]; then
  echo "install-e2e-deps: npm ci ($(IFS=,; echo "${stale[*]}" | sed 's/,/, /g'))"
  started=$SECONDS
  # PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: playwright-core has no install hook, but be explicit.
  (cd tests/e2e && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  echo "install-e2e-deps: npm ci done in $((SECONDS - started)) s"
fi
