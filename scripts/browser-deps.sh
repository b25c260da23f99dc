#!/usr/bin/env bash
# What the console's browser tests need from Debian: Chromium, its ChromeDriver (WebDriver), and a
# CJK font so that the Chinese labels in the screenshots are readable. Installed when missing;
# fails loudly when they cannot be (the tests never skip).
set -euo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
dpkg -s fonts-wqy-zenhei >/dev/null 2>&1 || dpkg -s fonts-noto-cjk >/dev/null 2>&1 || need+=(fonts-wqy-zenhei)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing from Debian's packages: ${need[*]}"
  [ "$(id -u)" = 0 ] || { echo "FAIL: ${need[*]} missing and not root to install them" >&2; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; } \
    || { echo "FAIL: cannot install ${need[*]}" >&2; exit 1; }
fi
/usr/bin/chromium --version
/usr/bin/chromedriver --version
