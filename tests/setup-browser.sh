#!/bin/sh
# Installs the headless browser that tests/test_app.py drives: Debian's chromium and its matching
# chromedriver. Browser automation tools that download their own browser builds cannot work on
# machines that reach only package registries, so the distribution's packages are used.
#
# Does nothing when both are already present. Installs them with apt-get when running as root on a
# machine with apt; otherwise prints what is missing and exits 0, and the browser test then fails
# with that reason (unless SEISIM_SKIP_BROWSER_TESTS=1 opts out of it).
set -u

have() { command -v "$1" >/dev/null 2>&1; }

browser_present() {
    (have chromium || have chromium-browser || have google-chrome) && have chromedriver
}

if browser_present; then
    exit 0
fi
if [ "${SEISIM_SKIP_BROWSER_TESTS:-}" = "1" ]; then
    exit 0
fi
if ! have apt-get; then
    echo "setup-browser: chromium/chromedriver missing and no apt-get here; install them by hand" \
         "(the dashboard browser test will fail until then)" >&2
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "setup-browser: chromium/chromedriver missing; run as root: apt-get install chromium" \
         "chromium-driver (the dashboard browser test will fail until then)" >&2
    exit 0
fi
echo "setup-browser: installing chromium and chromium-driver with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null \
    && apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-noto-cjk >/dev/null \
    || echo "setup-browser: apt-get could not install chromium chromium-driver" \
            "(the dashboard browser test will fail until then)" >&2
exit 0
