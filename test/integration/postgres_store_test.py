"""`store: postgresql://...` for real: `mlcanary serve` on a PostgreSQL 15 server that
the test starts (initdb + pg_ctl), a canary deployed, the service restarted, the rollout
carried on from the database; a wrong password or an unreachable server at start is one
line naming the URL without its password."""
import os
import subprocess
import unittest

from harness import ADMIN, BIN, MODELS, Server, free_port
from postgres import Postgres

ENDPOINTS = f"""  - name: recs
    variants:
      - name: production
        model: {{kind: xgboost, path: {MODELS}/recs-v1.json}}
"""
POLICY = {"initial_weight": 0.1, "step": 0.1, "bake": "1h", "interval": "300ms"}


class PostgresStoreTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = Postgres().start()

    @classmethod
    def tearDownClass(cls):
        cls.pg.cleanup()

    def serve(self, store):
        # A PostgreSQL store is fleet mode: a replica killed -9 holds the controller's
        # lease until it runs out; a short one keeps the restart below quick.
        server = Server(ENDPOINTS, interval="100ms", store=store, lease="2s")
        self.addCleanup(server.stop)
        return server

    def test_a_deployment_survives_a_restart_in_the_database(self):
        first = self.serve(self.pg.url()).start()
        r = first.deploy({"endpoint": "recs", "variant": "canary",
                          "model": {"kind": "xgboost", "path": f"{MODELS}/recs-v2.ubj"},
                          "policy": POLICY})
        self.assertEqual(r.status, 201, r.body)
        dep = r.json()["id"]
        first.kill9()
        # Another process, the same database: the deployment and the endpoint as it left them.
        second = self.serve(self.pg.url()).start()
        d = second.api("GET", f"/v1/deployments/{dep}").json()
        self.assertEqual(d["state"], "IN_PROGRESS")
        self.assertAlmostEqual(d["canary_weight"], 0.1)
        variants = {v["name"]: v["weight"] for v in
                    second.api("GET", "/v1/endpoints/recs").json()["variants"]}
        self.assertAlmostEqual(variants["canary"], 0.1)
        # The rollback is the leader's to make: this replica may lead only once the
        # killed one's lease has run out, and the answer may be ROLLING_BACK (or a
        # 202 request) with ROLLED_BACK a moment later.
        r = second.api("POST", f"/v1/deployments/{dep}/rollback")
        self.assertIn(r.status, (200, 202), r.body)
        self.assertEqual(second.wait_state(dep, {"ROLLED_BACK"}, timeout=30)["state"],
                         "ROLLED_BACK")

    def check_refused(self, url, expect):
        server = Server(ENDPOINTS, store=url)
        proc = subprocess.run([BIN, "serve", "--config", server.config], capture_output=True,
                              text=True, timeout=60,
                              env=dict(os.environ, MLCANARY_API_TOKEN=ADMIN))
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn(expect, proc.stderr)
        self.assertNotIn("pg-secret", proc.stderr + proc.stdout)
        self.assertNotIn("wrong-password", proc.stderr + proc.stdout)
        return proc.stderr

    def test_a_wrong_password_is_one_line_without_the_password(self):
        err = self.check_refused(self.pg.url(password="wrong-password"), "store")
        self.assertIn("password", err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)

    def test_an_unreachable_server_is_one_line(self):
        port = free_port()
        err = self.check_refused(f"postgresql://mlcanary:pg-secret@127.0.0.1:{port}/postgres",
                                 f"127.0.0.1:{port}")
        self.assertEqual(len(err.strip().splitlines()), 1, err)


if __name__ == "__main__":
    unittest.main()
