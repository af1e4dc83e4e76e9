"""The peer of the in-process XGBoost benchmark: what users run today for the same
model, Flask + xgboost's Python package behind gunicorn. Serves the gateway's
request and answer shapes on POST /v1/endpoints/<endpoint>/invocations.

MODEL_PATH: the XGBoost model (.json/.ubj). Prediction uses Booster.inplace_predict
(xgboost's fastest single-row path, no DMatrix per request), one thread each.
"""
import os

import numpy as np
import xgboost
from flask import Flask, jsonify, request

MODEL_PATH = os.environ["MODEL_PATH"]
MODEL_NAME = os.path.splitext(os.path.basename(MODEL_PATH))[0]

booster = xgboost.Booster(model_file=MODEL_PATH)
booster.set_param({"nthread": 1})
NUM_FEATURES = booster.num_features()

app = Flask(__name__)


def error(status, code, message):
    return jsonify({"error": {"code": code, "message": message}}), status


@app.post("/v1/endpoints/<endpoint>/invocations")
def invocations(endpoint):
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error(400, "ValidationError", "body must be a JSON object")
    rows = body["instances"] if "instances" in body else [body]
    try:
        features = np.array([row["features"] for row in rows], dtype=np.float32)
    except (KeyError, TypeError, ValueError):
        return error(400, "ValidationError", "features must be arrays of numbers")
    if features.ndim != 2 or features.shape[1] != NUM_FEATURES or not np.isfinite(features).all():
        return error(400, "ValidationError", f"expected {NUM_FEATURES} finite features")
    predictions = booster.inplace_predict(features)
    response = jsonify(
        {"predictions": predictions.tolist(), "variant": "production", "model": MODEL_NAME})
    response.headers["X-Mlcanary-Variant"] = "production"
    return response


@app.get("/ping")
def ping():
    return "", 200
