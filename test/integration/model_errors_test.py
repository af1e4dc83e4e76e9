"""A canary whose model file is not an XGBoost model: the API answer and the
deployment's events (readable with the read-only token) say so in one line naming
the file, with no XGBoost stack trace, and the endpoint stays free for the next
rollout."""
import json
import os
import random
import shutil
import tempfile
import unittest

from harness import MODELS, READER, Server

ENDPOINT = f"""  - name: recs
    variants:
      - name: production
        model: {{kind: xgboost, path: {MODELS}/recs-v1.json}}
"""


class ModelErrorsTest(unittest.TestCase):
    def setUp(self):
        self.server = Server(ENDPOINT).start()
        self.addCleanup(self.server.stop)
        self.dir = tempfile.mkdtemp(prefix="mlcanary-model-errors-")
        self.addCleanup(shutil.rmtree, self.dir)

    def write(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def assertCleanMessage(self, text):
        self.assertNotIn("Stack trace", text)
        self.assertNotIn("[bt]", text)
        self.assertNotIn("0x", text)
        self.assertNotIn("\n", text)

    def test_not_a_model_is_one_line_naming_the_file(self):
        rng = random.Random(7)
        files = [self.write("notes.json", b"these are notes, not a model\n"),
                 self.write("random.ubj", bytes(rng.randrange(256) for _ in range(4096))),
                 self.write("brace_random.ubj",
                            b"{" + bytes(rng.randrange(256) for _ in range(4096)))]
        for i, path in enumerate(files):
            r = self.server.deploy({"endpoint": "recs", "variant": f"bad{i}",
                                    "model": {"kind": "xgboost", "path": path},
                                    "policy": {"bake": "1h"}})
            self.assertEqual(r.status, 400, r.body)
            message = r.json()["error"]["message"]
            self.assertIn(f"model file '{path}' is not an XGBoost model", message)
            self.assertCleanMessage(message)

        listed = self.server.api("GET", "/v1/deployments?endpoint=recs", token=READER)
        self.assertEqual(listed.status, 200, listed.body)
        doc = listed.json()
        deployments = doc["deployments"] if isinstance(doc, dict) else doc
        self.assertEqual(sorted(d["state"] for d in deployments), ["FAILED"] * len(files))
        for d in deployments:
            r = self.server.api("GET", f"/v1/deployments/{d['id']}/events", token=READER)
            self.assertEqual(r.status, 200, r.body)
            events = r.json()
            events = events["events"] if isinstance(events, dict) else events
            text = json.dumps(events)
            self.assertIn("not an XGBoost model", text)
            for event in events:
                for value in event.values():
                    if isinstance(value, str):
                        self.assertCleanMessage(value)

        # Nothing is left holding the endpoint: a good model deploys next.
        good = self.server.deploy({"endpoint": "recs", "variant": "good",
                                   "model": {"kind": "xgboost",
                                             "path": f"{MODELS}/recs-v2.ubj"},
                                   "policy": {"bake": "1h"}})
        self.assertEqual(good.status, 201, good.body)


if __name__ == "__main__":
    unittest.main()
