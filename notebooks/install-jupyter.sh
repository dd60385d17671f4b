#!/usr/bin/env bash
# Installs headless Jupyter (nbconvert + nbclient + jupyter_client) from Debian packages when it is missing.
# .ci/run calls it before run-all.sh; it needs root (CI and the dev machines run as root) and Debian's apt.
set -euo pipefail
if [[ -x /usr/bin/jupyter-nbconvert ]] && /usr/bin/python3 -c 'import nbclient, nbformat, jupyter_client' 2>/dev/null; then
  exit 0
fi
echo "install-jupyter: installing jupyter-nbconvert, python3-nbclient, jupyter-client from Debian" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends jupyter-nbconvert python3-nbclient jupyter-client python3-nbformat >/dev/null
