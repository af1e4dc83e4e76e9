"""Records the running binary did not write itself (issue 13), for real: `mlcanary serve`
restarted on a SQLite file that holds a deployment an older version stored with a weight
below today's 10^-6 resolution, and a deployment record that does not decode at all.

The old policy still reads (GET /v1/deployments answers 200 with it); the controller fails
that deployment at its next check with traffic on production and a reason naming the key.
The corrupt record is skipped: logged naming it and counted on its endpoint. Neither stops
the checks of the other endpoint's deployment."""
import os
import re
import shutil
import sqlite3
import tempfile
import unittest

from harness import MODELS, Server

ENDPOINTS = "".join(f"""  - name: {name}
    variants:
      - name: production
        model: {{kind: xgboost, path: {MODELS}/recs-v1.json}}
""" for name in ("recs", "search", "ads"))
# Checks every 300 ms, no step for an hour: the deployments stay IN_PROGRESS at 10 %.
POLICY = {"initial_weight": 0.1, "step": 0.1, "bake": "1h", "interval": "300ms"}


class StoredRecordsTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="mlcanary-records-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.db = os.path.join(self.dir, "mlcanary.db")

    def serve(self):
        server = Server(ENDPOINTS, interval="100ms", workdir=self.dir).start()
        self.addCleanup(server.stop)
        return server

    def deploy(self, server, endpoint):
        r = server.deploy({"endpoint": endpoint, "variant": "canary",
                           "model": {"kind": "xgboost", "path": f"{MODELS}/recs-v1.json"},
                           "policy": POLICY})
        self.assertEqual(r.status, 201, r.body)
        return r.json()["id"]

    def checks(self, server, dep_id):
        return sum(1 for e in server.events(dep_id) if e["kind"] in ("check", "error"))

    def test_an_old_policy_and_a_corrupt_record_stop_no_other_deployment(self):
        first = self.serve()
        old = self.deploy(first, "recs")
        bad = self.deploy(first, "search")
        good = self.deploy(first, "ads")
        # The request path still refuses such a weight, naming the key.
        r = first.deploy({"endpoint": "ads", "variant": "c2",
                          "model": {"kind": "xgboost", "path": f"{MODELS}/recs-v1.json"},
                          "policy": {"step": 1e-7}})
        self.assertEqual(r.status, 400, r.body)
        self.assertIn(b"policy.step", r.body)
        first.stop()

        # What an older version (or a broken disk) left in the file.
        with sqlite3.connect(self.db) as db:
            db.execute("UPDATE deployments SET record = json_set(record, '$.policy.step', 1e-7) "
                       "WHERE id = ?", (old,))
            db.execute("UPDATE deployments SET record = '{\"id\": tru' WHERE id = ?", (bad,))

        second = self.serve()
        listed = second.api("GET", "/v1/deployments?endpoint=recs")
        self.assertEqual(listed.status, 200, listed.body)
        self.assertEqual([d["id"] for d in listed.json()["deployments"]], [old])
        self.assertEqual(listed.json()["deployments"][0]["policy"]["step"], 1e-7)

        failed = second.wait_state(old, {"FAILED"}, timeout=20)
        self.assertEqual(failed["canary_weight"], 0)
        reason = [e for e in second.events(old) if e["to_state"] == "FAILED"][-1]["reason"]
        self.assertIn("written by an older version", reason)
        self.assertIn("policy.step: weight 1e-07 must be at least 1e-06", reason)
        recs = second.endpoint("recs")
        weights = {v["name"]: v["weight"] for v in recs["variants"]}
        self.assertEqual(weights.get("production"), 1.0, recs)

        # The other deployment's checks go on.
        before = self.checks(second, good)
        second.wait_for("checks of the readable deployment",
                    lambda: self.checks(second, good) >= before + 3)
        self.assertEqual(second.deployment(good)["state"], "IN_PROGRESS")

        # The corrupt record: logged naming it, counted on its endpoint.
        second.wait_for("the corrupt record in the log",
                    lambda: re.search(rf"deployment {bad} \(endpoint 'search'\): the store "
                                      rf"cannot read its record", second.logs()))
        metrics = second.api("GET", "/metrics")
        self.assertEqual(metrics.status, 200, metrics.body)
        m = re.search(rb'^mlcanary_check_errors_total\{endpoint="search"\} (\d+)$', metrics.body,
                      re.M)
        self.assertTrue(m and int(m.group(1)) >= 1, metrics.body[-2000:])
        self.assertEqual(second.api("GET", f"/v1/deployments/{bad}").status, 500)


if __name__ == "__main__":
    unittest.main()
