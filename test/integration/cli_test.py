"""The CLI's client verbs against a real `mlcanary serve`: every verb, --output
json, and the error cases a user hits first (no server, bad token, unknown id,
refused transition)."""
import json
import os
import subprocess
import unittest

from harness import ADMIN, BIN, MODELS, READER, Server, free_port

ENDPOINT = f"""  - name: recs
    variants:
      - name: production
        model: {{kind: xgboost, path: {MODELS}/recs-v1.json}}
"""


class CliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(ENDPOINT).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def cli(self, *args, token=ADMIN, url=None):
        env = dict(os.environ, MLCANARY_URL=url or f"http://127.0.0.1:{self.server.control_port}")
        env.pop("MLCANARY_API_TOKEN", None)
        if token is not None:
            env["MLCANARY_API_TOKEN"] = token
        return subprocess.run([BIN, *args], capture_output=True, text=True, env=env, timeout=120)

    def deploy(self, *extra):
        p = self.cli("deploy", "--endpoint", "recs", "--model-path", f"{MODELS}/recs-v2.ubj",
                     "--policy", "bake=1h", "--output", "json", *extra)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def test_every_verb(self):
        dep = self.deploy("--variant", "cli-canary")
        self.assertEqual(dep["state"], "IN_PROGRESS")
        dep_id = dep["id"]
        p = self.cli("list")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(dep_id, p.stdout)
        p = self.cli("list", "--state", "IN_PROGRESS", "--output", "json")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(dep_id, p.stdout)
        p = self.cli("status", dep_id)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("IN_PROGRESS", p.stdout)
        self.assertIn("10%", p.stdout)
        p = self.cli("events", dep_id)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("IN_PROGRESS", p.stdout)
        for verb, state in (("pause", "IN_PROGRESS"), ("resume", "IN_PROGRESS"),
                            ("complete", "COMPLETED")):
            p = self.cli(verb, dep_id, "--output", "json")
            self.assertEqual(p.returncode, 0, f"{verb}: {p.stderr}")
            self.assertEqual(json.loads(p.stdout)["state"], state, verb)
        # The canary is production now; the next deployment is rolled back by hand.
        dep2 = self.deploy("--variant", "cli-canary-2")
        p = self.cli("rollback", dep2["id"])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("ROLLED_BACK", p.stdout)
        dep3 = self.deploy("--variant", "cli-canary-3")
        p = self.cli("cancel", dep3["id"], "--output", "json")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["state"], "CANCELLED")

    def test_refused_transition_is_one_line_and_nonzero(self):
        dep = self.deploy("--variant", "cli-refused")
        self.assertEqual(self.cli("cancel", dep["id"]).returncode, 0)
        p = self.cli("resume", dep["id"])
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertIn("CANCELLED", p.stderr)

    def test_approve_when_not_at_a_gate_is_refused_in_one_line(self):
        dep = self.deploy("--variant", "cli-approve")
        p = self.cli("approve", dep["id"])
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertIn("is not waiting at a gate", p.stderr)
        self.assertEqual(self.cli("cancel", dep["id"]).returncode, 0)

    def test_unknown_id(self):
        p = self.cli("status", "dep-does-not-exist")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("not found", p.stderr)

    def test_bad_token(self):
        p = self.cli("list", token="wrong")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("MLCANARY_API_TOKEN", p.stderr)
        p = self.cli("list", token=None)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("MLCANARY_API_TOKEN", p.stderr)

    def test_reader_cannot_deploy(self):
        p = self.cli("deploy", "--endpoint", "recs", "--model-path", "x.json", token=READER)
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1)

    def test_unreachable_server(self):
        p = self.cli("list", url=f"http://127.0.0.1:{free_port()}")
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot reach", p.stderr)

    def test_invalid_policy_pair(self):
        p = self.cli("deploy", "--endpoint", "recs", "--model-path", "m.json", "--policy", "oops")
        self.assertEqual(p.returncode, 2)
        self.assertIn("KEY=VALUE", p.stderr)

    def test_server_side_validation_names_the_key(self):
        p = self.cli("deploy", "--endpoint", "recs", "--model-path", f"{MODELS}/recs-v2.ubj",
                     "--policy", "steps=0.5,0.2")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("steps[1]", p.stderr)


    def test_ids_are_percent_encoded_and_unknown_ones_are_not_found(self):
        for verb in ("status", "events", "cancel"):
            for dep_id in ("' OR 1=1 --", "a/complete", "x?y#z", "100%"):
                with self.subTest(verb=verb, id=dep_id):
                    p = self.cli(verb, dep_id)
                    self.assertEqual(p.returncode, 1, p.stderr)
                    self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
                    self.assertIn(f"'{dep_id}' not found", p.stderr)

    def test_list_filters_are_percent_encoded(self):
        p = self.cli("list", "--endpoint", "no such endpoint", "--output", "json")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["deployments"], [])
        p = self.cli("list", "--state", "IN PROGRESS&x=1")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("IN PROGRESS&x=1", p.stderr)

    def test_list_history_since_until_limit(self):
        ids = []
        for i in range(3):
            dep = self.deploy("--variant", f"history-{i}")
            p = self.cli("cancel", dep["id"])
            self.assertEqual(p.returncode, 0, p.stderr)
            ids.append(dep["id"])
        p = self.cli("list", "--since", "1h", "--output", "json")
        self.assertEqual(p.returncode, 0, p.stderr)
        listed = [d["id"] for d in json.loads(p.stdout)["deployments"]]
        self.assertTrue(set(ids) <= set(listed), p.stdout)
        p = self.cli("list", "--since", "1h", "--limit", "2", "--output", "json")
        self.assertEqual(p.returncode, 0, p.stderr)
        doc = json.loads(p.stdout)
        self.assertEqual([d["id"] for d in doc["deployments"]], listed[:2])
        self.assertIn("next_page_token", doc)
        p = self.cli("list", "--since", "1h", "--limit", "2")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(p.stdout.strip().splitlines()), 3, p.stdout)  # header + 2
        for flags in (("--until", "2000-01-01T00:00:00Z"), ("--since", "2099-01-01T00:00:00Z")):
            p = self.cli("list", *flags, "--output", "json")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(json.loads(p.stdout)["deployments"], [], flags)

    def test_list_bad_history_flags_name_the_flag(self):
        for flags, name in ((("--since", "yesterday"), "--since"),
                            (("--until", "2026-11-28"), "--until"),
                            (("--since", "1h", "--until", "2h"), "--since"),
                            (("--limit", "0"), "--limit"),
                            (("--limit", "many"), "--limit")):
            p = self.cli("list", *flags)
            self.assertEqual(p.returncode, 2, f"{flags}: {p.stderr}")
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
            self.assertIn(name, p.stderr, flags)

    def test_policy_weight_below_the_resolution_is_refused_naming_the_key(self):
        p = self.cli("deploy", "--endpoint", "recs", "--model-path", f"{MODELS}/recs-v2.ubj",
                     "--policy", "initial_weight=1e-7")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertIn("body.policy.initial_weight: weight 1e-07 must be at least 1e-06",
                      p.stderr)

if __name__ == "__main__":
    unittest.main()
