#!/usr/bin/env bash
# Trains the example models (synthetic data whose positive class rises with
# feature 0) with the XGBoost C API and prints each one's single-row latency:
#   recs-v1.json  8 features, 100 trees, depth 3, seed 1   (JSON model format)
#   recs-v2.ubj   8 features, 100 trees, depth 4, seed 2   (UBJSON model format)
#   recs-v3.json  12 features, otherwise like v2, seed 3   (a feature-schema change:
#                 8-feature requests are a 400 for it)
#   recs-v4.json  8 features, SLOW: DART booster, 1500 trees, depth 10, seed 4,
#                 18 MB, about 6 ms a row (training it takes about 4 minutes)
#   recs-v5.ubj   recs-v2 trained with features 0 and 1 swapped (a feature-order bug:
#                 fast, no errors, different answers; the demo's divergence rollback)
# Usage: examples/models/make_models.sh [BUILD_DIR] [--only FILE]   (default: build)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
shift || true
ninja -C "$build" mlcanary_train_example_models
"$build/src/models/mlcanary_train_example_models" "$root/examples/models" "$@"
