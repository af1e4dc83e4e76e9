#!/usr/bin/env python3
"""Offline AWS for mlcanary's SageMaker-mode tests: moto 5.2.1, extended where it
lacks what the design needs, behind a front proxy that checks every request.

The proxy verifies each request's SigV4 signature with botocore's SigV4Auth and
validates its parameters against botocore's service model (ParamValidator), records
requests and violations, injects queued faults, and otherwise relays the request to
moto's real handlers. See README.md in this directory.

    python3 test/aws/moto_harness.py --ready-file PATH   # CLI, runs until SIGTERM
    h = Harness.start(); ...; h.stop()                  # in-process, for unittest
"""

import argparse
import base64
import datetime
import gzip
import hashlib
import hmac
import http.client
import http.server
import json
import logging
import math
import os
import re
import signal
import sys
import threading
import urllib.parse
import xml.sax.saxutils

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.session
import botocore.validate

ACCESS_KEY = "AKIDMLCANARYTEST"
SECRET_KEY = "mlcanary-test-secret"

# Credential-scope service (signing name) -> botocore service model name.
SIGNING_NAME_TO_SERVICE = {
    "sagemaker": "sagemaker",
    "monitoring": "cloudwatch",
    "sns": "sns",
    "dynamodb": "dynamodb",
    "application-autoscaling": "application-autoscaling",
    "sqs": "sqs",
}

# X-Amz-Target prefix -> botocore service model name (used when a request carries
# no Authorization header, so there is no credential scope to read).
TARGET_PREFIX_TO_SERVICE = {
    "SageMaker": "sagemaker",
    "GraniteServiceVersion20100801": "cloudwatch",
    "DynamoDB_20120810": "dynamodb",
    "AnyScaleFrontendService": "application-autoscaling",
    "AmazonSQS": "sqs",
}

# --------------------------------------------------------------------------------------
# Harness extensions of moto (monkeypatches). Each one fills a gap between moto 5.2.1
# and the AWS behaviour the SageMaker-mode design relies on; everything else is moto's
# own behaviour, reached through moto's real request handlers.
# --------------------------------------------------------------------------------------

_patch_lock = threading.Lock()
_patched = False
# Every SNS Publish seen by moto in this process, in order (extension (c)).
_sns_lock = threading.Lock()
# Harness extension (d): moto 5.2.1's TransactWriteItems is not safe against
# concurrent requests (it snapshots the whole table and restores the snapshot
# when a transaction is cancelled, wiping writes that landed meanwhile). Real
# DynamoDB transactions are atomic and isolated, so the harness hands moto one
# DynamoDB request at a time.
_dynamodb_lock = threading.Lock()
_sns_messages = []

_PERCENTILE_RE = re.compile(r"^p(\d{1,2}(?:\.\d+)?|100)$")


def _nearest_rank_percentile(values, p):
    """Nearest-rank percentile: the smallest value with at least p% of the values at
    or below it (rank = ceil(p/100 * n), 1-based)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def _apply_moto_extensions():
    global _patched
    with _patch_lock:
        if _patched:
            return
        _extend_sagemaker_update_endpoint()
        _extend_cloudwatch_percentiles()
        _extend_sns_publish_recording()
        _extend_sagemaker_runtime_invoke()
        _patched = True


def _extend_sagemaker_update_endpoint():
    """Harness extension (a): SageMaker UpdateEndpoint. moto 5.2.1 has no handler
    (NotImplementedError -> HTTP 500), and the deployer's create/complete/cancel
    flows switch an endpoint to a new EndpointConfig with it. Like moto's other
    endpoint operations the switch is instant (the endpoint stays InService)."""
    from moto.sagemaker import models as sm_models
    from moto.sagemaker import responses as sm_responses
    from moto.sagemaker.exceptions import AWSValidationException
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow

    def update_endpoint(self, endpoint_name, endpoint_config_name,
                        retain_all_variant_properties=False,
                        exclude_retained_variant_properties=None):
        endpoint = self.endpoints.get(endpoint_name)
        if endpoint is None:
            arn = sm_models.FakeEndpoint.arn_formatter(endpoint_name, self.account_id,
                                                       self.region_name)
            raise AWSValidationException(f'Could not find endpoint "{arn}".')
        if endpoint.endpoint_status != "InService":
            raise AWSValidationException(
                f'Cannot update in-progress endpoint "{endpoint.arn}".'
                if endpoint.endpoint_status in ("Creating", "Updating", "RollingBack") else
                f'Endpoint "{endpoint.arn}" is in status {endpoint.endpoint_status}; '
                "only an InService endpoint can be updated.")
        config = self.endpoint_configs.get(endpoint_config_name)
        if config is None:
            arn = sm_models.FakeEndpointConfig.arn_formatter(
                endpoint_config_name, self.account_id, self.region_name)
            raise AWSValidationException(f"Could not find endpoint configuration '{arn}'.")
        excluded = {e.get("VariantPropertyType")
                    for e in (exclude_retained_variant_properties or [])}
        current = {v["VariantName"]: v for v in endpoint.production_variants}
        variants = endpoint._process_production_variants(config.production_variants)
        if retain_all_variant_properties:
            # Same-named variants keep their current weights and counts unless the
            # request excludes that property from retention.
            for variant in variants:
                old = current.get(variant["VariantName"])
                if old is None:
                    continue
                if "DesiredWeight" not in excluded:
                    for key in ("CurrentWeight", "DesiredWeight"):
                        if key in old:
                            variant[key] = old[key]
                if "DesiredInstanceCount" not in excluded:
                    for key in ("CurrentInstanceCount", "DesiredInstanceCount"):
                        if key in old:
                            variant[key] = old[key]
        endpoint.endpoint_config_name = endpoint_config_name
        endpoint.production_variants = variants
        endpoint.data_capture_config = config.data_capture_config
        endpoint.last_modified_time = utcnow()
        return endpoint.arn

    def update_endpoint_response(self):
        arn = self.sagemaker_backend.update_endpoint(
            endpoint_name=self._get_param("EndpointName"),
            endpoint_config_name=self._get_param("EndpointConfigName"),
            retain_all_variant_properties=bool(
                self._get_param("RetainAllVariantProperties", False)),
            exclude_retained_variant_properties=self._get_param(
                "ExcludeRetainedVariantProperties"),
        )
        return ActionResult({"EndpointArn": arn})

    sm_models.SageMakerModelBackend.update_endpoint = update_endpoint
    sm_responses.SageMakerResponse.update_endpoint = update_endpoint_response


# Extension (e): per-variant behaviour of InvokeEndpoint, set through
# POST /_harness/runtime-variants; (endpoint, variant) -> {"delay_ms", "scale"}.
_runtime_lock = threading.Lock()
_runtime_variants = {}


def _extend_sagemaker_runtime_invoke():
    """Harness extension (e): sagemaker-runtime InvokeEndpoint answered per variant.
    moto 5.2.1 answers canned results, the same whatever the TargetVariant, for any
    endpoint name. Here, as AWS does: the endpoint must exist in moto's SageMaker
    (else ValidationError "Endpoint ... not found.", HTTP 400); a TargetVariant must
    be one of its production variants (else ValidationError); without one a variant
    is drawn by the current weights. The answer is a model's: text/csv rows in,
    {"predictions": [scale * sum(row), ...]} out (scale 1 unless set), with
    x-Amzn-Invoked-Production-Variant naming the variant, after the variant's delay."""
    import random as _random
    import time as _time
    from moto.sagemaker.models import sagemaker_backends
    from moto.sagemakerruntime import responses as rt_responses

    def error(code, message, status=400):
        # moto takes the status from the headers' "status" (the tuple's is ignored).
        return status, {"status": status, "Content-Type": "application/json",
                        "x-amzn-ErrorType": code}, json.dumps({"message": message})

    def invoke_endpoint(self):
        endpoint_name = urllib.parse.unquote(self.path.split("/")[2])
        backend = sagemaker_backends[self.current_account][self.region]
        endpoint = backend.endpoints.get(endpoint_name)
        if endpoint is None:
            return error("ValidationError", f"Endpoint {endpoint_name} of account "
                         f"{self.current_account} not found.")
        variants = {v["VariantName"]: v for v in endpoint.production_variants}
        target = self.headers.get("X-Amzn-SageMaker-Target-Variant")
        if target is not None and target not in variants:
            return error("ValidationError", f"The variant {target} does not exist for "
                         f"endpoint {endpoint_name}.")
        if target is None:
            names = list(variants)
            # moto leaves CurrentWeight out of a variant created at weight 0.
            weights = [float(variants[n].get("CurrentWeight", 0)) for n in names]
            target = _random.choices(names, weights=weights if sum(weights) > 0 else None)[0]
        with _runtime_lock:
            behaviour = dict(_runtime_variants.get((endpoint_name, target), {}))
        if behaviour.get("delay_ms"):
            _time.sleep(behaviour["delay_ms"] / 1000.0)
        body = self.body.decode() if isinstance(self.body, bytes) else (self.body or "")
        try:
            rows = [[float(x) for x in line.split(",")] for line in body.splitlines()
                    if line.strip()]
        except ValueError:
            return error("ModelError", "Received client error (400) from primary with "
                         "message \"could not read text/csv\".", 424)
        scale = float(behaviour.get("scale", 1.0))
        answer = json.dumps({"predictions": [scale * sum(row) for row in rows]})
        return 200, {"Content-Type": "application/json",
                     "x-Amzn-Invoked-Production-Variant": target}, answer

    rt_responses.SageMakerRuntimeResponse.invoke_endpoint = invoke_endpoint


def _extend_cloudwatch_percentiles():
    """Harness extension (b): percentile statistics (p50, p90, p99, pNN.N) in
    GetMetricData. moto 5.2.1 knows only SampleCount/Sum/Average/Minimum/Maximum and
    fails with HTTP 500 on "p99"; the MetricsSource reads ModelLatency p50/p90/p99.
    The percentile is the nearest-rank percentile of the raw datapoints in each
    period. A StatisticValues set counts only when Minimum == Maximum (all its
    samples have that value), as CloudWatch does; a period with no usable value has
    no datapoint rather than a null one."""
    from moto.cloudwatch import models as cw_models

    original_stat = cw_models.Statistics.get_statistics_for_type
    original_get_metric_data = cw_models.CloudWatchBackend.get_metric_data

    def get_statistics_for_type(self, stat):
        match = _PERCENTILE_RE.match(stat or "")
        if not match:
            return original_stat(self, stat)
        values = list(self.metric_single_values_list)
        for aggregated in self.metric_aggregated_list:
            if aggregated.min == aggregated.max:
                values.extend([aggregated.min] * int(aggregated.sample_count))
        if not values:
            return None
        return _nearest_rank_percentile(values, float(match.group(1)))

    def get_metric_data(self, *args, **kwargs):
        results = original_get_metric_data(self, *args, **kwargs)
        for result in results:
            pairs = [(v, t) for v, t in zip(result["values"], result["timestamps"])
                     if v is not None]
            result["values"] = [v for v, _ in pairs]
            result["timestamps"] = [t for _, t in pairs]
        return results

    cw_models.Statistics.get_statistics_for_type = get_statistics_for_type
    cw_models.CloudWatchBackend.get_metric_data = get_metric_data


def _extend_sns_publish_recording():
    """Harness extension (c): record every SNS Publish (moto keeps no inspectable
    log of topic publishes without subscribers) so tests can assert that SNS
    received each deployment transition."""
    from moto.sns import models as sns_models

    original_publish = sns_models.SNSBackend.publish

    def publish(self, message, arn, phone_number=None, subject=None,
                message_attributes=None, *args, **kwargs):
        message_id = original_publish(self, message, arn, phone_number, subject,
                                      message_attributes, *args, **kwargs)
        attributes = {}
        for name, attr in (message_attributes or {}).items():
            data_type = attr.get("Type", "String")
            key = "BinaryValue" if data_type.startswith("Binary") else "StringValue"
            attributes[name] = {"DataType": data_type, key: str(attr.get("Value"))}
        with _sns_lock:
            _sns_messages.append({
                "topic_arn": arn,
                "phone_number": phone_number,
                "message": message,
                "subject": subject,
                "message_attributes": attributes,
                "message_id": message_id,
            })
        return message_id

    sns_models.SNSBackend.publish = publish


# --------------------------------------------------------------------------------------
# Request checks: SigV4 signature and service-model parameter validation.
# --------------------------------------------------------------------------------------

_session_lock = threading.Lock()
_session = None
_models = {}


def _service_model(name):
    global _session
    with _session_lock:
        if _session is None:
            _session = botocore.session.get_session()
        if name not in _models:
            _models[name] = _session.get_service_model(name)
        return _models[name]


_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=([^,\s]+)\s*,\s*SignedHeaders=([^,\s]+)\s*,"
    r"\s*Signature=([0-9a-f]+)\s*$")


def parse_authorization(value):
    """Returns dict(access_key, date, region, service, signed_headers, signature) or
    None when the header is not a SigV4 Authorization header."""
    match = _AUTH_RE.match(value.strip())
    if not match:
        return None
    scope = match.group(1).split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        return None
    return {
        "access_key": scope[0], "date": scope[1], "region": scope[2], "service": scope[3],
        "signed_headers": match.group(2).split(";"), "signature": match.group(3),
    }


class _ReceivedHeadersSigV4Auth(botocore.auth.SigV4Auth):
    """botocore's SigV4 over exactly the headers the request carries: AWS signs what
    SignedHeaders lists, while botocore's client-side signer leaves out some it
    would never sign itself (User-Agent, Expect, X-Amzn-Trace-Id)."""

    def headers_to_sign(self, request):
        header_map = botocore.awsrequest.HTTPHeaders()
        for name, value in request.headers.items():
            header_map[name.lower()] = value
        return header_map


def verify_signature(method, path, headers, body, auth):
    """Rebuilds the request from what was received, keeping exactly the headers the
    client listed in SignedHeaders, and recomputes botocore's SigV4 signature for the
    received X-Amz-Date and the harness credentials. Returns None when it matches,
    else a message naming what differs."""
    if auth["access_key"] != ACCESS_KEY:
        return (f"access key {auth['access_key']!r} is not the harness key {ACCESS_KEY!r}")
    amz_date = headers.get("X-Amz-Date")
    if not amz_date:
        return "no X-Amz-Date header"
    if not amz_date.startswith(auth["date"]):
        return (f"credential scope date {auth['date']} does not match X-Amz-Date {amz_date}")
    signed = auth["signed_headers"]
    if signed != sorted(signed):
        return f"SignedHeaders not sorted: {';'.join(signed)}"
    if "host" not in signed:
        return "host is not among SignedHeaders"
    rebuilt = botocore.awsrequest.AWSRequest(method=method, url="http://" + headers.get(
        "Host", "") + path, data=body)
    for name in signed:
        values = headers.get_all(name)
        if values is None:
            return f"signed header {name!r} was not sent"
        if name == "x-amz-date":
            values = values[:1]  # libcurl 7.88 repeats a user-supplied X-Amz-Date
        for value in values:
            rebuilt.headers.add_header(name, value)
    declared = headers.get("x-amz-content-sha256")
    if declared is not None and declared != hashlib.sha256(body).hexdigest():
        return "x-amz-content-sha256 does not match the body received"
    token = headers.get("X-Amz-Security-Token")
    signer = _ReceivedHeadersSigV4Auth(
        botocore.credentials.Credentials(ACCESS_KEY, SECRET_KEY, token), auth["service"],
        auth["region"])
    rebuilt.context["timestamp"] = amz_date
    canonical = signer.canonical_request(rebuilt)
    expected = signer.signature(signer.string_to_sign(rebuilt, canonical), rebuilt)
    if not hmac.compare_digest(expected, auth["signature"]):
        return (f"signature mismatch: received {auth['signature']}, botocore computes "
                f"{expected} over canonical request {canonical!r}")
    return None


def _query_scalar(shape, text):
    """Converts a Query-protocol string to the Python type ParamValidator expects;
    a string that does not convert is kept, so the validator reports its type."""
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
        if kind == "boolean":
            return {"true": True, "false": False}.get(text, text)
        if kind == "blob":
            return base64.b64decode(text, validate=True)
    except ValueError:
        return text
    return text


def unflatten_query(shape, flat):
    """Rebuilds the structure of a Query-protocol request (`X.member.N`,
    `X.entry.N.Name/Value`, nested `A.B`) from its flat form using the operation's
    input shape. Returns (params, unused_keys)."""
    used = set()

    def present(prefix):
        return prefix in flat or any(k.startswith(prefix + ".") for k in flat)

    def decode(shape_, prefix):
        kind = shape_.type_name
        if kind == "structure":
            out = {}
            for member_name, member in shape_.members.items():
                name = member.serialization.get("name", member_name)
                key = f"{prefix}.{name}" if prefix else name
                if present(key):
                    out[member_name] = decode(member, key)
            if prefix in flat:
                used.add(prefix)
            return out
        if kind == "list":
            if flat.get(prefix) == "":
                used.add(prefix)
                return []
            if shape_.serialization.get("flattened"):
                base = prefix
            else:
                base = f"{prefix}.{shape_.member.serialization.get('name', 'member')}"
            out = []
            n = 1
            while present(f"{base}.{n}"):
                out.append(decode(shape_.member, f"{base}.{n}"))
                n += 1
            return out
        if kind == "map":
            base = prefix if shape_.serialization.get("flattened") else f"{prefix}.entry"
            key_name = shape_.key.serialization.get("name", "key")
            value_name = shape_.value.serialization.get("name", "value")
            out = {}
            n = 1
            while present(f"{base}.{n}"):
                entry = f"{base}.{n}"
                key = decode(shape_.key, f"{entry}.{key_name}")
                out[key] = decode(shape_.value, f"{entry}.{value_name}")
                n += 1
            return out
        used.add(prefix)
        text = flat.get(prefix)
        if text is None:  # a scalar given as if it were nested: keep what was sent
            return {k: v for k, v in flat.items() if k.startswith(prefix + ".")}
        return _query_scalar(shape_, text)

    params = decode(shape, "") if shape is not None else {}
    return params, sorted(k for k in flat if k not in used)


def _rest_json_operation(model, method, path):
    """Finds the rest-json operation whose requestUri template matches; returns
    (operation_model, uri_params) or (None, None)."""
    for op_name in model.operation_names:
        op = model.operation_model(op_name)
        http = op.http
        if http.get("method", "POST") != method:
            continue
        template = http.get("requestUri", "/").split("?")[0]
        pattern = "^" + re.sub(r"\\\{(\w+)(?:\\\+)?\\\}", r"(?P<\1>[^/]+)",
                               re.escape(template)) + "$"
        match = re.match(pattern, path)
        if match:
            return op, {k: urllib.parse.unquote(v) for k, v in match.groupdict().items()}
    return None, None


def _rest_json_params(op, uri_params, headers, body):
    params = {}
    shape = op.input_shape
    if shape is None:
        return params
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        if location == "uri" and wire_name in uri_params:
            params[name] = uri_params[wire_name]
        elif location == "header" and headers.get(wire_name) is not None:
            params[name] = _query_scalar(member, headers.get(wire_name))
    payload = shape.serialization.get("payload")
    if payload:
        params[payload] = body
    elif body:
        params.update(json.loads(body))
    return params


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    return value


# --------------------------------------------------------------------------------------
# Front proxy.
# --------------------------------------------------------------------------------------

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer",
               "upgrade", "proxy-authorization", "proxy-authenticate", "content-length"}


class _State:
    """Requests, violations and queued faults of one harness; thread-safe."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []
        self.violations = []
        self.faults = {}  # operation -> list of fault dicts, consumed in order
        self.sns_start = 0  # index into _sns_messages where this harness's view begins


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mlcanary-moto-harness"

    def log_message(self, format, *args):  # noqa: A002 - quiet; tests read records
        pass

    # ---- plumbing ----
    @property
    def state(self):
        return self.server.harness_state

    def _send(self, status, body, headers=()):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        sent = set()
        for name, value in headers:
            self.send_header(name, value)
            sent.add(name.lower())
        if "content-type" not in sent:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def _dispatch(self, method):
        try:
            body = self._body()
            if self.path.startswith("/_harness/"):
                self._control(method, body)
            else:
                self._aws(method, body)
        except Exception as err:  # one catch site: answer 500 and say why
            logging.exception("harness proxy error")
            try:
                self._send(500, json.dumps({"__type": "InternalFailure",
                                            "message": f"harness proxy error: {err!r}"}),
                           [("X-Amzn-ErrorType", "InternalFailure")])
            except OSError:
                pass

    # ---- control endpoints ----
    def _control(self, method, body):
        route = (method, self.path.split("?")[0])
        state = self.state
        if route == ("POST", "/_harness/faults"):
            spec = json.loads(body or b"{}")
            try:
                self.server.harness.inject_fault(
                    spec["operation"], int(spec.get("count", 1)), int(spec.get("status", 400)),
                    spec.get("code", "ThrottlingException"), spec.get("message", "injected"),
                    bool(spec.get("after_forwarding", False)))
            except (KeyError, ValueError, TypeError) as err:
                self._send(400, json.dumps({"error": f"bad fault spec: {err!r}"}))
                return
            self._send(200, json.dumps({"queued": int(spec.get("count", 1))}))
        elif route == ("GET", "/_harness/requests"):
            with state.lock:
                self._send(200, json.dumps(state.requests))
        elif route == ("GET", "/_harness/violations"):
            with state.lock:
                self._send(200, json.dumps(state.violations))
        elif route == ("GET", "/_harness/sns-messages"):
            self._send(200, json.dumps(self.server.harness.sns_messages()))
        elif route == ("POST", "/_harness/runtime-variants"):
            spec = json.loads(body or b"{}")
            try:
                key = (str(spec["endpoint"]), str(spec["variant"]))
                behaviour = {"delay_ms": float(spec.get("delay_ms", 0)),
                             "scale": float(spec.get("scale", 1.0))}
            except (KeyError, ValueError, TypeError) as err:
                self._send(400, json.dumps({"error": f"bad runtime variant spec: {err!r}"}))
                return
            with _runtime_lock:
                _runtime_variants[key] = behaviour
            self._send(200, "{}")
        elif route == ("POST", "/_harness/reset"):
            self.server.harness.reset()
            self._send(200, "{}")
        else:
            self._send(404, json.dumps({"error": f"no control endpoint {method} {self.path}"}))

    # ---- AWS requests ----
    def _identify(self, auth):
        """Returns (service_model_name, protocol, operation_name or None)."""
        target = self.headers.get("X-Amz-Target")
        service = None
        if auth is not None:
            service = SIGNING_NAME_TO_SERVICE.get(auth["service"], auth["service"])
        elif target:
            service = TARGET_PREFIX_TO_SERVICE.get(target.split(".")[0])
        if service == "sagemaker" and not target and self.path.startswith("/endpoints/"):
            service = "sagemaker-runtime"
        if target:
            return service, "json", target.rsplit(".", 1)[-1]
        if service == "sagemaker-runtime":
            return service, "rest-json", None
        return service, "query", None

    def _violation(self, record, kind, detail):
        violation = {"service": record["service"], "operation": record["operation"],
                     "kind": kind, "detail": detail}
        record["violations"].append(violation)
        with self.state.lock:
            self.state.violations.append(violation)

    def _aws(self, method, body):
        raw_auth = self.headers.get("Authorization")
        auth = parse_authorization(raw_auth) if raw_auth else None
        service, protocol, operation = self._identify(auth)
        record = {"service": service, "operation": operation, "protocol": protocol,
                  "params": None, "signature_ok": False, "violations": []}
        # boto3 gzips large CloudWatch PutMetricData bodies (Content-Encoding: gzip,
        # signed as sent). moto 5.2.1 answers such bodies with HTTP 500 (it decompresses
        # twice), so the harness checks the signature over the bytes received and then
        # validates and forwards the decompressed body without the encoding header.
        plain = body
        if (self.headers.get("Content-Encoding") or "").lower() == "gzip":
            try:
                plain = gzip.decompress(body)
            except (OSError, EOFError) as err:
                self._violation(record, "protocol", f"Content-Encoding gzip, body is not: {err}")
        if protocol == "query":
            flat = dict(urllib.parse.parse_qsl(plain.decode("utf-8", "replace"),
                                               keep_blank_values=True))
            operation = record["operation"] = flat.pop("Action", None)
            version = flat.pop("Version", None)
        model = op = None
        if service is not None:
            try:
                model = _service_model(service)
            except Exception as err:
                self._violation(record, "unknown-service", f"no botocore model: {err}")

        # Signature.
        if raw_auth is None:
            self._violation(record, "signature", "no Authorization header (unsigned request)")
        elif auth is None:
            self._violation(record, "signature", f"malformed Authorization header: {raw_auth}")
        else:
            problem = verify_signature(method, self.path, self.headers, body, auth)
            if problem is None:
                record["signature_ok"] = True
            else:
                self._violation(record, "signature", problem)

        # Operation and parameters.
        if model is not None:
            metadata = model.metadata
            try:
                if protocol == "rest-json":
                    op, uri_params = _rest_json_operation(model, method, self.path.split("?")[0])
                    if op is None:
                        raise LookupError(f"no {service} operation for {method} {self.path}")
                    operation = record["operation"] = op.name
                    params = _rest_json_params(op, uri_params, self.headers, plain)
                else:
                    if operation not in model.operation_names:
                        raise LookupError(f"{service} has no operation {operation!r}")
                    op = model.operation_model(operation)
                    if protocol == "json":
                        prefix = self.headers.get("X-Amz-Target").rsplit(".", 1)[0]
                        if prefix != metadata.get("targetPrefix"):
                            self._violation(record, "protocol",
                                            f"X-Amz-Target prefix {prefix!r}, model has "
                                            f"{metadata.get('targetPrefix')!r}")
                        want = "application/x-amz-json-" + metadata.get("jsonVersion", "1.0")
                        got = (self.headers.get("Content-Type") or "").split(";")[0].strip()
                        if got != want:
                            self._violation(record, "protocol",
                                            f"Content-Type {got!r}, expected {want!r}")
                        params = json.loads(plain) if plain.strip() else {}
                        if not isinstance(params, dict):
                            raise ValueError("JSON body is not an object")
                    else:
                        if version != metadata.get("apiVersion"):
                            self._violation(record, "protocol",
                                            f"Version {version!r}, expected "
                                            f"{metadata.get('apiVersion')!r}")
                        params, unused = unflatten_query(op.input_shape, flat)
                        if unused:
                            self._violation(record, "validation",
                                            f"parameters not in the {operation} input shape: "
                                            f"{', '.join(unused)}")
                record["params"] = _jsonable(params)
                if op.input_shape is not None:
                    report = botocore.validate.ParamValidator().validate(params, op.input_shape)
                    if report.has_errors():
                        self._violation(record, "validation", report.generate_report())
            except (LookupError, ValueError) as err:
                self._violation(record, "unknown-operation"
                                if isinstance(err, LookupError) else "validation", str(err))
        with self.state.lock:
            self.state.requests.append(record)

        if raw_auth is None:
            self._error(protocol, service, 403, "MissingAuthenticationToken",
                        "Request is missing Authentication Token")
            return
        fault = self.server.harness._take_fault(operation)
        if fault is not None:
            record["fault"] = fault["code"]
            if fault["after_forwarding"]:  # moto acts on it; the caller sees the error
                record["forwarded"] = True
                self._forward(method, plain, drop_encoding=plain is not body, relay=False)
            self._error(protocol, service, fault["status"], fault["code"], fault["message"])
            return
        if service == "dynamodb":
            with _dynamodb_lock:
                self._forward(method, plain, drop_encoding=plain is not body)
        else:
            self._forward(method, plain, drop_encoding=plain is not body)

    def _error(self, protocol, service, status, code, message):
        request_id = hashlib.sha1(os.urandom(8)).hexdigest()
        if protocol == "query":
            fault = "Sender" if status < 500 else "Receiver"
            esc = xml.sax.saxutils.escape
            body = (f'<ErrorResponse xmlns="http://{service}.amazonaws.com/doc/">'
                    f"<Error><Type>{fault}</Type><Code>{esc(code)}</Code>"
                    f"<Message>{esc(message)}</Message></Error>"
                    f"<RequestId>{request_id}</RequestId></ErrorResponse>")
            self._send(status, body, [("Content-Type", "text/xml"),
                                      ("x-amzn-RequestId", request_id)])
            return
        content_type = "application/json"
        if protocol == "json":  # answer in the JSON version the request used
            content_type = (self.headers.get("Content-Type") or
                            "application/x-amz-json-1.1").split(";")[0].strip()
        headers = [("X-Amzn-ErrorType", code), ("x-amzn-RequestId", request_id),
                   ("Content-Type", content_type)]
        if self.headers.get("x-amzn-query-mode", "").lower() == "true":
            headers.append(("x-amzn-query-error",
                            f"{code};{'Sender' if status < 500 else 'Receiver'}"))
        self._send(status, json.dumps({"__type": code, "message": message}), headers)

    def _forward(self, method, body, drop_encoding=False, relay=True):
        host, port = self.server.moto_address
        conn = http.client.HTTPConnection(host, port, timeout=60)
        try:
            headers = {}
            for name, value in self.headers.items():
                if name.lower() in _HOP_BY_HOP or name.lower() == "expect":
                    continue
                if drop_encoding and name.lower() == "content-encoding":
                    continue
                headers.setdefault(name, value)
            headers["Content-Length"] = str(len(body))
            conn.request(method, self.path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            if not relay:
                return
            # Server and Date come from this proxy's own send_response.
            headers = [(k, v) for k, v in response.getheaders()
                       if k.lower() not in _HOP_BY_HOP and k.lower() not in ("server", "date")]
            self._send(response.status, data, headers)
        finally:
            conn.close()


class _ProxyServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Harness:
    """moto (extended) plus the checking front proxy, both on 127.0.0.1 free ports.

    moto's backends are process-global: two harnesses in one process share AWS state
    (and SNS records). Use one harness per process (the CLI) for isolation."""

    ACCESS_KEY = ACCESS_KEY
    SECRET_KEY = SECRET_KEY

    def __init__(self):
        self._state = _State()
        self._moto = None
        self._proxy = None
        self._proxy_thread = None
        self.url = None
        self.moto_url = None

    @classmethod
    def start(cls):
        harness = cls()
        harness._start()
        return harness

    def _start(self):
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        _apply_moto_extensions()
        from moto.server import ThreadedMotoServer

        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._moto.start()
        moto_host, moto_port = self._moto.get_host_and_port()
        self.moto_url = f"http://{moto_host}:{moto_port}"
        with _sns_lock:
            self._state.sns_start = len(_sns_messages)
        self._proxy = _ProxyServer(("127.0.0.1", 0), _Handler)
        self._proxy.harness_state = self._state
        self._proxy.harness = self
        self._proxy.moto_address = (moto_host, moto_port)
        self.url = f"http://127.0.0.1:{self._proxy.server_address[1]}"
        self._proxy_thread = threading.Thread(target=self._proxy.serve_forever,
                                              name="harness-proxy", daemon=True)
        self._proxy_thread.start()

    def stop(self):
        if self._proxy is not None:
            self._proxy.shutdown()
            self._proxy.server_close()
            self._proxy_thread.join()
            self._proxy = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None

    def inject_fault(self, operation, count=1, status=400, code="ThrottlingException",
                     message="injected", after_forwarding=False):
        """Queues `count` error answers for `operation` (e.g. "UpdateEndpoint"), in the
        error format of the protocol the request arrives in. `after_forwarding`: moto
        gets each request first (it takes effect) and its answer is replaced by the
        error, as when AWS acted on a call whose answer was lost."""
        if count < 1 or not 400 <= status <= 599:
            raise ValueError(f"fault needs count >= 1 and a 4xx/5xx status, got "
                             f"count={count} status={status}")
        with self._state.lock:
            self._state.faults.setdefault(operation, []).extend(
                {"status": status, "code": code, "message": message,
                 "after_forwarding": after_forwarding} for _ in range(count))

    def _take_fault(self, operation):
        with self._state.lock:
            queue = self._state.faults.get(operation)
            if queue:
                return queue.pop(0)
        return None

    def requests(self):
        with self._state.lock:
            return json.loads(json.dumps(self._state.requests))

    def violations(self):
        with self._state.lock:
            return json.loads(json.dumps(self._state.violations))

    def sns_messages(self):
        with _sns_lock:
            return json.loads(json.dumps(_sns_messages[self._state.sns_start:]))

    def reset(self):
        """Clears requests, violations, queued faults and the SNS record (moto's AWS
        state is kept)."""
        with self._state.lock:
            self._state.requests.clear()
            self._state.violations.clear()
            self._state.faults.clear()
        with _sns_lock:
            self._state.sns_start = len(_sns_messages)
        with _runtime_lock:
            _runtime_variants.clear()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ready-file", required=True,
                        help="where to write {url, moto_url, pid} once serving")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    harness = Harness.start()
    tmp = f"{args.ready_file}.tmp.{os.getpid()}"
    with open(tmp, "w") as out:
        json.dump({"url": harness.url, "moto_url": harness.moto_url, "pid": os.getpid()}, out)
    os.replace(tmp, args.ready_file)
    print(f"moto harness: proxy {harness.url}, moto {harness.moto_url}", file=sys.stderr,
          flush=True)
    while not stop.wait(0.5):
        pass
    harness.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
