#!/bin/sh
# Debian's Chromium and a CJK font for the browser tests; nothing downloads a browser build.
# Installs them with apt-get when missing and allowed (root); otherwise the browser tests
# are skipped with a reason that says what to install.
if [ -x /usr/bin/chromium ] && fc-list 2>/dev/null | grep -qi 'wenquanyi\|wqy\|noto sans cjk'; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium and fonts-wqy-microhei for the browser tests"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null \
    || echo "warning: could not install chromium; browser tests will be skipped" >&2
else
  echo "warning: /usr/bin/chromium or a CJK font is missing (apt-get install chromium fonts-wqy-microhei);" \
       "browser tests will be skipped" >&2
fi
exit 0
