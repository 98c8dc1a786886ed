#!/usr/bin/env bash
# Installs the Debian packages the tests use for real (nginx, inotify-tools, ...), when missing.
# With arguments, installs exactly those packages. Needs root (or sudo) only when something is
# missing; otherwise it says what to install and the tests that need it skip with that reason.
set -euo pipefail

if [ "$#" -gt 0 ]; then
  wanted=("$@")
else
  wanted=()
  # Debian's "nginx" package has /usr/sbin/nginx (bookworm's nginx-light only adds a module to it)
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || wanted+=(nginx)
  command -v inotifywait >/dev/null 2>&1 || wanted+=(inotify-tools)
  command -v curl >/dev/null 2>&1 || wanted+=(curl)
  command -v openssl >/dev/null 2>&1 || wanted+=(openssl)
  # etcd for the real control plane (tests/support/controlplane.py, with KUBEBUILDER_ASSETS)
  command -v etcd >/dev/null 2>&1 || wanted+=(etcd-server)
  # promtool checks and unit-tests the alerting rules in deploy/monitoring/
  command -v promtool >/dev/null 2>&1 || wanted+=(prometheus)
  # zsh loads the script of `kubereload completion zsh` in tests/cli/test_cli_completion.py
  command -v zsh >/dev/null 2>&1 || wanted+=(zsh)
fi
[ "${#wanted[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO="sudo -n"
else
  echo "note: cannot install ${wanted[*]} (not root); tests that need them will skip" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "note: no apt-get; install ${wanted[*]} yourself; tests that need them will skip" >&2
  exit 0
fi
echo "installing Debian packages: ${wanted[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
# Keep the packages' services (a system nginx on port 80, etcd on 2379) from starting: the tests run their own.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get install -y -qq --no-install-recommends "${wanted[@]}" >/dev/null
