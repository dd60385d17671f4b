#!/usr/bin/env bash
# Makes sure headless Jupyter is on PATH: jupyter-nbconvert (with nbclient, which executes notebooks) and
# jupyter-kernelspec (from jupyter_client, which starts kernels). When they are missing it installs them from Debian
# packages (jupyter-nbconvert, python3-nbclient, jupyter-client; needs root, as CI runs), or, without apt-get, says
# what to install (for example: python3 -m pip install nbconvert nbclient jupyter_client). .ci/run calls it before
# run-all.sh.
set -euo pipefail
if command -v jupyter-nbconvert >/dev/null && command -v jupyter-kernelspec >/dev/null; then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "install-jupyter: jupyter-nbconvert and jupyter-kernelspec are not on PATH and there is no apt-get here;" \
       "install them (python3 -m pip install nbconvert nbclient jupyter_client) and run again" >&2
  exit 2
fi
echo "install-jupyter: installing jupyter-nbconvert, python3-nbclient, jupyter-client from Debian" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends jupyter-nbconvert python3-nbclient jupyter-client python3-nbformat >/dev/null
