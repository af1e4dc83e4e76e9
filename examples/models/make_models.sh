#!/usr/bin/env bash
# Trains the two example models (8 features, 100 trees, synthetic data whose
# positive class rises with feature 0) with the XGBoost C API:
#   recs-v1.json  depth 3, seed 1   (JSON model format)
#   recs-v2.ubj   depth 4, seed 2   (UBJSON model format)
# Usage: examples/models/make_models.sh [BUILD_DIR]   (default: build)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
ninja -C "$build" mlcanary_train_example_models
"$build/src/models/mlcanary_train_example_models" "$root/examples/models"
