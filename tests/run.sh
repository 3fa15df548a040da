#!/usr/bin/env bash
# The whole test suite, with everything it needs: the README's test command and what .ci/run calls.
# Installs into .venv (made by the Quick start, or here) every extra the tests use, Debian's Chromium for
# the browser tests (nothing downloads a browser of its own) and onnxruntime-web from npm; then runs
# pytest with VAEDGE_NO_SKIP=1, so a test that would skip for a missing install fails instead.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*" >&2; }

if [ ! -x .venv/bin/python ]; then
  step "making .venv"
  python3 -m venv .venv
fi
step "installing vaedge with every extra the tests use"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[train,dev,openvino,sign,micro]' jax

if ! command -v chromium >/dev/null 2>&1 && [ -z "${VAEDGE_CHROMIUM:-}" ]; then
  step "installing Debian's chromium for the browser tests"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
ort_web=build/ort-web/node_modules/onnxruntime-web/dist
if [ -z "${VAEDGE_ORT_WEB_DIR:-}" ] && [ ! -f "$ort_web/ort.wasm.min.js" ]; then
  step "installing onnxruntime-web from npm into build/ort-web"
  mkdir -p build/ort-web
  (cd build/ort-web && npm install --silent --no-audit --no-fund onnxruntime-web@1.30.0 >/dev/null)
fi
export VAEDGE_ORT_WEB_DIR="${VAEDGE_ORT_WEB_DIR:-$PWD/$ort_web}"
# Byte code once for the editable install, as pip writes it for installed packages: with
# PYTHONDONTWRITEBYTECODE set (CI sets it) each of the suite's hundreds of processes would compile
# vaedge's modules again.
.venv/bin/python -m compileall -q -j 0 src runtime export train >/dev/null
if [ -z "${VAEDGE_DATA_DIR:-}" ] && [ -d ../shared/data/fashion-mnist ]; then
  VAEDGE_DATA_DIR="$(cd ../shared/data && pwd)"  # a local copy beside the clone, as on vaedge's CI
  export VAEDGE_DATA_DIR
fi
export TF_CPP_MIN_LOG_LEVEL=3 VAEDGE_NO_SKIP=1
step "pytest"
# One worker per core (pytest-xdist), a test file to a worker so that module fixtures are set up once.
exec .venv/bin/python -m pytest -q -n auto --dist loadfile --durations=30 "$@"
