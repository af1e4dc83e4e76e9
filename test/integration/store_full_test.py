"""A store that cannot be written, for real (issue 13): `mlcanary serve` with its SQLite
file on a small tmpfs that the test fills up, steady traffic, a healthy canary.

While the disk is full every check fails to be recorded: each is logged and counted,
and the deployment shows its last check error. None of them counts towards the bake:
once space is back the canary bakes again before it steps. A manual rollback on a full
disk answers 503 "traffic is on production; the record will follow", inference goes
100 % to production at once and stays there, and the record (ROLLED_BACK) is written
when space comes back.

Needs to mount a tmpfs (root or CAP_SYS_ADMIN, as in CI); skipped otherwise."""
import errno
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest
from datetime import datetime

from harness import MODELS, Server, Traffic

ENDPOINT = f"""  - name: recs
    variants:
      - name: production
        model: {{kind: xgboost, path: {MODELS}/recs-v1.json}}
"""
BAKE_S = 3.0
# The canary is production's own model: healthy on every check. The latency ratio
# rule is relaxed as in serve_test (microsecond models trip it on noise).
POLICY = {"steps": [0.1, 0.5, 1.0], "bake": "3s", "interval": "500ms", "final_bake": "10m",
          "min_invocations": 20, "max_latency_ratio": 1000}


def parse_time(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class StoreFullTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="mlcanary-full-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.mnt = os.path.join(self.dir, "store")
        os.mkdir(self.mnt)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", self.mnt],
                           capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest("cannot mount a tmpfs to fill (needs root): " + r.stderr.strip())
        self.addCleanup(subprocess.run, ["umount", "-l", self.mnt])
        self.server = Server(ENDPOINT, interval="100ms", workdir=self.dir,
                             store=f"sqlite:{self.mnt}/mlcanary.db").start()
        self.addCleanup(self.server.stop)
        self.traffic = Traffic(self.server.inference_port, threads=3).start()
        self.addCleanup(self.traffic.stop)
        self.filler = os.path.join(self.mnt, "filler")

    def fill_disk(self):
        with open(self.filler, "ab", buffering=0) as f:
            for size in (1 << 16, 4096, 512):
                try:
                    while True:
                        f.write(b"\0" * size)
                except OSError as e:
                    self.assertEqual(e.errno, errno.ENOSPC, e)
        self.assertLess(shutil.disk_usage(self.mnt).free, 4096)

    def free_disk(self):
        os.remove(self.filler)

    def check_errors(self):
        r = self.server.api("GET", "/metrics")
        self.assertEqual(r.status, 200, r.body)
        m = re.search(rb'^mlcanary_check_errors_total\{endpoint="recs"\} (\d+)$', r.body, re.M)
        return int(m.group(1)) if m else 0

    def test_full_disk_checks_are_reported_no_bake_counts_and_rollback_reaches_production(self):
        r = self.server.deploy({"endpoint": "recs", "variant": "canary",
                                "model": {"kind": "xgboost", "path": f"{MODELS}/recs-v1.json"},
                                "policy": POLICY})
        self.assertEqual(r.status, 201, r.body)
        dep_id = r.json()["id"]
        self.assertAlmostEqual(r.json()["canary_weight"], 0.1)

        # --- Full disk while baking at 10 %: checks fail, are logged, counted, shown.
        self.fill_disk()
        errors_before = self.check_errors()
        time.sleep(BAKE_S + 2)  # more than a bake of healthy, unrecorded checks
        self.assertGreaterEqual(self.check_errors(), errors_before + 3)
        self.assertIn("check failed", self.server.logs())
        self.assertIn("disk is full", self.server.logs())
        d = self.server.deployment(dep_id)
        self.assertEqual(d["state"], "IN_PROGRESS")
        self.assertAlmostEqual(d["canary_weight"], 0.1)
        self.assertIn("store unavailable", d["last_check_error"]["message"])
        self.assertIn("disk is full", d["last_check_error"]["message"])
        self.assertLess(abs(parse_time(d["last_check_error"]["time"]) - time.time()), 5)
        self.assertGreaterEqual(d["unrecorded"]["checks"], 3)

        # --- Space back: the first recorded check starts a fresh bake; no step before it.
        freed_at = time.time()
        self.free_disk()
        self.server.wait_for("10 % -> 50 %",
                             lambda: self.server.deployment(dep_id)["canary_weight"] > 0.4)
        events = self.server.events(dep_id)
        first = next(e for e in events
                     if e["kind"] == "check" and parse_time(e["time"]) >= freed_at - 0.05)
        self.assertIn("earlier check(s) not recorded", first["reason"])
        self.assertAlmostEqual(first["weight_before"], 0.1)
        step = next(e for e in events if e["kind"] == "weight_change")
        self.assertGreaterEqual(parse_time(step["time"]) - parse_time(first["time"]),
                                BAKE_S - 0.5 - 0.05,
                                f"stepped on unrecorded bake: {first} then {step}")

        # --- Full disk again; a manual rollback: 503, and production gets all traffic.
        self.fill_disk()
        errors_before = self.check_errors()
        self.server.wait_for("a check error", lambda: self.check_errors() > errors_before)
        r = self.server.api("POST", f"/v1/deployments/{dep_id}/rollback")
        self.assertEqual(r.status, 503, r.body)
        self.assertEqual(r.json()["error"]["code"], "ServiceUnavailable")
        self.assertIn("traffic is on production; the record will follow",
                      r.json()["error"]["message"])
        self.assertIn("disk is full", r.json()["error"]["message"])
        time.sleep(0.3)  # requests routed before the switch finish
        before = self.traffic.snapshot()
        time.sleep(2.0)  # several ticks: nothing moves traffic back to the stored 50 %
        after = self.traffic.snapshot()
        served = {v: sum(after.get(v, {}).values()) - sum(before.get(v, {}).values())
                  for v in set(after) | set(before)}
        self.assertEqual(served.get("canary", 0), 0, served)
        self.assertGreater(served.get("production", 0), 20, served)
        live = {v["name"]: v["weight"] for v in self.server.endpoint("recs")["variants"]}
        self.assertEqual(live, {"production": 1.0, "canary": 0.0})
        d = self.server.deployment(dep_id)
        self.assertEqual(d["state"], "IN_PROGRESS")  # the store has not taken it yet
        self.assertEqual(d["unrecorded"]["rollback"]["traffic"], "production")
        paused = self.server.api("POST", f"/v1/deployments/{dep_id}/pause")
        self.assertEqual(paused.status, 503, paused.body)
        self.assertIn("is being rolled back", paused.json()["error"]["message"])

        # --- Space back: the record follows.
        self.free_disk()
        final = self.server.wait_state(dep_id, {"ROLLED_BACK", "FAILED", "COMPLETED"}, 15)
        self.assertEqual(final["state"], "ROLLED_BACK")
        self.assertIsNone(final["unrecorded"])
        events = self.server.events(dep_id)
        rolling = [e for e in events if e["to_state"] == "ROLLING_BACK"]
        self.assertEqual(len(rolling), 1, events)
        self.assertIn("rollback requested by", rolling[0]["reason"])
        steps = [e["weight_after"] for e in events if e["kind"] == "weight_change"]
        self.assertEqual(steps, [0.5], events)  # never stepped again while pending
        live = {v["name"]: v["weight"] for v in self.server.endpoint("recs")["variants"]}
        self.assertEqual(live, {"production": 1.0})  # the canary is removed
        self.assertGreater(self.traffic.snapshot().get("production", {}).get(200, 0), 0)


if __name__ == "__main__":
    unittest.main()
