"""Every error row of API.md's inference API against the real `mlcanary serve`:
malformed JSON, missing fields, wrong types, non-finite numbers, wrong feature count,
unknown endpoint/variant, huge body, slow upstream, dead upstream — each a JSON error
with the documented status, none a crash."""
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

from harness import MODELS, Server, free_port, request

SLOW = os.path.join(os.path.dirname(__file__), "slow_model_server.py")


def start_model_server(delay):
    port_file = tempfile.mktemp()
    proc = subprocess.Popen([sys.executable, SLOW, port_file, str(delay)])
    for _ in range(100):
        if os.path.exists(port_file) and open(port_file).read():
            return proc, int(open(port_file).read())
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("model server did not start")


class InferenceErrorsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.slow, slow_port = start_model_server(1.0)
        cls.ok, ok_port = start_model_server(0.0)
        dead_port = free_port()
        # The dead upstream must answer /ping at start-up: start it, then stop it.
        cls.dead, dead_port = start_model_server(0.0)
        cls.server = Server(f"""  - name: recs
    variants:
      - name: production
        model: {{kind: xgboost, path: {MODELS}/recs-v1.json}}
  - name: remote
    variants:
      - name: slow
        weight: 1.0
        model: {{kind: http, url: http://127.0.0.1:{slow_port}, timeout: 200ms}}
      - name: fine
        weight: 0.0
        model: {{kind: http, url: http://127.0.0.1:{ok_port}, timeout: 2s}}
      - name: dead
        weight: 0.0
        model: {{kind: http, url: http://127.0.0.1:{dead_port}, timeout: 500ms}}
""", extra_yaml="gateway: {max_body_bytes: 65536}").start()
        cls.dead.kill()
        cls.dead.wait()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.slow.kill()
        cls.ok.kill()

    def invoke(self, body, endpoint="recs", headers=None, path=None):
        path = path or f"/v1/endpoints/{endpoint}/invocations"
        return request(self.server.inference_port, "POST", path, body=body, headers=headers)

    def assertError(self, reply, status, code=None):
        self.assertEqual(reply.status, status, reply.body)
        doc = reply.json()
        self.assertIn("error", doc)
        self.assertTrue(doc["error"]["message"])
        if code:
            self.assertEqual(doc["error"]["code"], code)

    def test_valid_request_answers_with_variant(self):
        r = self.invoke({"user_id": "u1", "features": [0.1] * 8})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["variant"], "production")
        self.assertEqual(r.headers["x-mlcanary-variant"], "production")
        r = self.invoke({"instances": [{"user_id": "a", "features": [0.1] * 8},
                                       {"user_id": "b", "features": [0.9] * 8}]})
        self.assertEqual(len(r.json()["predictions"]), 2)

    def test_malformed_json(self):
        self.assertError(self.invoke(b'{"user_id": "u1", "features": [0.1,'), 400,
                         "ValidationError")

    def test_missing_fields(self):
        self.assertError(self.invoke({"user_id": "u1"}), 400, "ValidationError")
        self.assertError(self.invoke({}), 400, "ValidationError")

    def test_wrong_types(self):
        self.assertError(self.invoke({"user_id": "u1", "features": "0.1,0.2"}), 400)
        self.assertError(self.invoke({"user_id": "u1", "features": [0.1] * 7 + ["x"]}), 400)
        self.assertError(self.invoke([1, 2, 3]), 400)

    def test_non_finite_numbers(self):
        self.assertError(self.invoke(b'{"user_id":"u","features":[NaN,0,0,0,0,0,0,0]}'), 400)
        self.assertError(self.invoke(b'{"user_id":"u","features":[1e400,0,0,0,0,0,0,0]}'), 400)

    def test_wrong_feature_count(self):
        self.assertError(self.invoke({"user_id": "u1", "features": [0.1] * 3}), 400,
                         "ValidationError")

    def test_unknown_endpoint_and_variant(self):
        self.assertError(self.invoke({"user_id": "u1", "features": [0.1] * 8}, endpoint="nope"),
                         404)
        r = self.invoke({"user_id": "u1", "features": [0.1] * 8},
                        path="/endpoints/recs/invocations",
                        headers={"X-Amzn-SageMaker-Target-Variant": "nope"})
        self.assertEqual(r.status, 404, r.body)

    def test_huge_body(self):
        body = json.dumps({"user_id": "u1", "features": [0.1] * 8, "pad": "x" * 200_000})
        self.assertError(self.invoke(body), 413)

    def test_slow_upstream_is_504(self):
        self.assertError(self.invoke({"user_id": "u1", "features": [0.1] * 8},
                                     endpoint="remote"), 504)

    def test_dead_upstream_is_503(self):
        r = self.invoke({"user_id": "u1", "features": [0.1] * 8},
                        path="/endpoints/remote/invocations",
                        headers={"X-Amzn-SageMaker-Target-Variant": "dead"})
        self.assertError(r, 503)

    def test_sagemaker_path_names_the_variant(self):
        r = self.invoke({"user_id": "u1", "features": [0.1] * 8},
                        path="/endpoints/remote/invocations",
                        headers={"X-Amzn-SageMaker-Target-Variant": "fine"})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.headers["x-amzn-invoked-production-variant"], "fine")

    def test_server_survives_all_of_it(self):
        r = request(self.server.inference_port, "GET", "/ping")
        self.assertEqual(r.status, 200)


if __name__ == "__main__":
    unittest.main()
