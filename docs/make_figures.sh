#!/usr/bin/env bash
# The README's pictures, from a real model: the Quick start's bundle (one epoch on all 60,000 images).
#   docs/explain.png, docs/clusters.png       vaedge explain (held-out image 0) and vaedge clusters
#   docs/explain-page.png, docs/web.png       the page (vaedge web) in Debian's Chromium, through the
#                                             opt-in screenshot test of tests/web/test_explain_page.py
# Usage, from the clone with the Quick start's .venv active:
#   bash docs/make_figures.sh [BUNDLE] [DATA]
# BUNDLE defaults to bundles/quickstart (the Quick start's export); DATA to the Fashion-MNIST IDX folder
# $VAEDGE_DATA_DIR/fashion-mnist, else the name fashion_mnist (vaedge finds or downloads it). The page
# needs onnxruntime-web (VAEDGE_ORT_WEB_DIR, or build/ort-web as tests/run.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=$(realpath "${1:-bundles/quickstart}")
if [[ -n "${2:-}" ]]; then
  data=$2
elif [[ -n "${VAEDGE_DATA_DIR:-}" && -d "$VAEDGE_DATA_DIR/fashion-mnist" ]]; then
  data=$VAEDGE_DATA_DIR/fashion-mnist
else
  data=fashion_mnist
fi
export TF_CPP_MIN_LOG_LEVEL=3
vaedge explain "$bundle" "$data" --index 0 --samples 8 --seed 0 --out docs/explain.png
vaedge clusters "$bundle" --data "$data" --limit 1000 --out docs/clusters.png
VAEDGE_TEST_BUNDLE="$bundle" python -m pytest -q -p no:cacheprovider -m screenshots \
  tests/web/test_explain_page.py -k test_screenshots_for_the_readme
