"""`mlcanary serve` end to end (issue: deployment service): real binary, real
SQLite file, real XGBoost models and a real HTTP model server, steady traffic,
fast timings (checks every second, bake 2 s)."""
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from harness import ADMIN, BIN, MODELS, READER, Server, Traffic, free_port, request

ENDPOINT = f"""  - name: recs
    variants:
      - name: production
        model: {{kind: xgboost, path: {MODELS}/recs-v1.json}}
"""
# Model latencies here are microseconds (the native tree walker), where the 2x ratio
# rule trips on noise between two healthy models (8 µs vs 29 µs); the rollout
# mechanics under test do not depend on it, so these policies relax it.
FAST = {"step": 0.3, "bake": "2s", "interval": "1s", "min_invocations": 20,
        "max_latency_ratio": 1000}


def start_slow_model_server(delay):
    port_file = tempfile.mktemp()
    proc = subprocess.Popen([sys.executable, os.path.join(os.path.dirname(__file__),
                                                          "slow_model_server.py"),
                             port_file, str(delay)])
    for _ in range(100):
        if os.path.exists(port_file) and open(port_file).read():
            return proc, int(open(port_file).read())
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("slow model server did not start")


class ServeRolloutTest(unittest.TestCase):
    def setUp(self):
        self.server = Server(ENDPOINT).start()
        self.addCleanup(self.server.stop)
        self.traffic = Traffic(self.server.inference_port).start()
        self.addCleanup(self.traffic.stop)

    def assertNoProductionErrors(self):
        counts = self.traffic.snapshot().get("production", {})
        errors = {s: n for s, n in counts.items() if s != 200}
        self.assertEqual(errors, {}, f"production answered errors: {self.traffic.snapshot()}")
        self.assertGreater(counts.get(200, 0), 0)

    def test_good_canary_completes_step_by_step(self):
        r = self.server.deploy({"endpoint": "recs", "variant": "canary-v2",
                                "model": {"kind": "xgboost", "path": f"{MODELS}/recs-v2.ubj"},
                                "policy": FAST})
        self.assertEqual(r.status, 201, r.body)
        dep = r.json()
        self.assertEqual(dep["state"], "IN_PROGRESS")
        self.assertAlmostEqual(dep["canary_weight"], 0.1)
        final = self.server.wait_state(dep["id"], {"COMPLETED", "ROLLED_BACK", "FAILED"})
        self.assertEqual(final["state"], "COMPLETED", self.server.events(dep["id"]))
        self.assertAlmostEqual(final["canary_weight"], 1.0)
        weights = [e["weight_after"] for e in self.server.events(dep["id"])
                   if e["kind"] in ("weight_change", "transition")]
        for w in (0.1, 0.4, 0.7, 1.0):
            self.assertTrue(any(abs(x - w) < 1e-9 for x in weights), (w, weights))
        variants = {v["name"]: v["weight"] for v in self.server.endpoint("recs")["variants"]}
        self.assertEqual(variants, {"canary-v2": 1.0})
        time.sleep(0.5)
        self.assertIn(200, self.traffic.snapshot().get("canary-v2", {}))
        self.assertNoProductionErrors()

    def test_feature_schema_change_rolls_back_on_errors(self):
        r = self.server.deploy({"endpoint": "recs", "variant": "canary-v3",
                                "model": {"path": f"{MODELS}/recs-v3.json"},
                                "policy": FAST})
        self.assertEqual(r.status, 201, r.body)
        dep = r.json()
        final = self.server.wait_state(dep["id"], {"ROLLED_BACK", "COMPLETED", "FAILED"}, 30)
        self.assertEqual(final["state"], "ROLLED_BACK")
        events = self.server.events(dep["id"])
        breached = [e for e in events if e["kind"] == "check"
                    and e["check"]["verdict"] in ("error_breached", "latency_and_error_breached")]
        self.assertEqual(len(breached), 2, events)  # rolled back on the 2nd consecutive breach
        self.assertIn(400, self.traffic.snapshot().get("canary-v3", {}))
        variants = {v["name"]: v["weight"] for v in self.server.endpoint("recs")["variants"]}
        self.assertEqual(variants, {"production": 1.0})
        self.assertNoProductionErrors()

    def test_slow_canary_rolls_back_on_latency(self):
        proc, port = start_slow_model_server(0.15)
        self.addCleanup(proc.kill)
        r = self.server.deploy({"endpoint": "recs", "variant": "canary-v4",
                                "model": {"kind": "http", "url": f"http://127.0.0.1:{port}",
                                          "timeout": "2s"},
                                "policy": FAST})
        self.assertEqual(r.status, 201, r.body)
        dep = r.json()
        final = self.server.wait_state(dep["id"], {"ROLLED_BACK", "COMPLETED", "FAILED"}, 40)
        self.assertEqual(final["state"], "ROLLED_BACK")
        events = self.server.events(dep["id"])
        reasons = " ".join(e["reason"] for e in events if e["kind"] == "transition")
        self.assertIn("latency", reasons)
        latency_breaches = [e for e in events if e["kind"] == "check"
                            and e["check"]["latency_breached"]]
        self.assertGreaterEqual(len(latency_breaches), 3)
        self.assertNoProductionErrors()


class ServeApiTest(unittest.TestCase):
    def setUp(self):
        self.server = Server(ENDPOINT).start()
        self.addCleanup(self.server.stop)

    def test_two_concurrent_creates_one_wins(self):
        results = []

        def create(name):
            results.append(self.server.deploy({"endpoint": "recs", "variant": name,
                                               "model": {"path": f"{MODELS}/recs-v2.ubj"},
                                               "policy": {"bake": "1h"}}).status)
        threads = [threading.Thread(target=create, args=(f"c{i}",)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(sorted(results), [201, 409])

    def test_every_route_needs_a_token_and_readers_cannot_mutate(self):
        r = self.server.deploy({"endpoint": "recs", "variant": "c",
                                "model": {"path": f"{MODELS}/recs-v2.ubj"},
                                "policy": {"bake": "1h"}})
        dep_id = r.json()["id"]
        reads = ["/v1/endpoints", "/v1/endpoints/recs", "/v1/deployments",
                 f"/v1/deployments/{dep_id}", f"/v1/deployments/{dep_id}/events"]
        writes = ["/v1/deployments"] + [f"/v1/deployments/{dep_id}/{a}" for a in
                                        ("complete", "cancel", "rollback", "pause", "resume")]
        for path in reads:
            self.assertEqual(self.server.api("GET", path, token=None).status, 401, path)
            self.assertEqual(self.server.api("GET", path, token="wrong").status, 401, path)
            self.assertEqual(self.server.api("GET", path, token=READER).status, 200, path)
        for path in writes:
            self.assertEqual(self.server.api("POST", path, body={}, token=None).status, 401, path)
            self.assertEqual(self.server.api("POST", path, body={}, token=READER).status, 403,
                             path)
        self.assertNotIn(ADMIN, self.server.logs())

    def test_refused_transition_is_409_and_unknown_id_404(self):
        r = self.server.deploy({"endpoint": "recs", "variant": "c",
                                "model": {"path": f"{MODELS}/recs-v2.ubj"},
                                "policy": {"bake": "1h"}})
        dep_id = r.json()["id"]
        self.assertEqual(self.server.api("POST", f"/v1/deployments/{dep_id}/cancel").status, 200)
        self.assertEqual(self.server.api("POST", f"/v1/deployments/{dep_id}/resume").status, 409)
        self.assertEqual(self.server.api("GET", "/v1/deployments/nope").status, 404)
        bad = self.server.deploy({"endpoint": "nope", "model": {"path": "x"}})
        self.assertEqual(bad.status, 404, bad.body)


class ServeCrashTest(unittest.TestCase):
    """kill -9 at random points of a rollout; the restarted server resumes it."""

    def test_kill9_and_restart_resumes_without_gaps(self):
        for seed in (1, 2, 3):
            with self.subTest(seed=seed):
                self.run_one(seed)

    def run_one(self, seed):
        rng = random.Random(seed)
        server = Server(ENDPOINT).start()
        self.addCleanup(server.stop)
        traffic = Traffic(server.inference_port, threads=2).start()
        r = server.deploy({"endpoint": "recs", "variant": "canary-v2",
                           "model": {"path": f"{MODELS}/recs-v2.ubj"},
                           "policy": {**FAST, "step": 0.2}})
        self.assertEqual(r.status, 201, r.body)
        dep_id = r.json()["id"]
        for _ in range(2):
            time.sleep(rng.uniform(0.5, 4.0))
            server.kill9()
            traffic.stop()
            server.start()
            traffic = Traffic(server.inference_port, threads=2).start()
            d = server.deployment(dep_id)
            if d["state"] == "IN_PROGRESS":
                live = {v["name"]: v["weight"] for v in server.endpoint("recs")["variants"]}
                self.assertAlmostEqual(live.get("canary-v2", -1), d["canary_weight"], places=6)
        final = server.wait_state(dep_id, {"COMPLETED", "ROLLED_BACK", "FAILED"}, 90)
        traffic.stop()
        self.assertEqual(final["state"], "COMPLETED", server.events(dep_id))
        events = server.events(dep_id)
        self.assertEqual([e["seq"] for e in events], list(range(1, len(events) + 1)))
        steps = [e["weight_after"] for e in events if e["kind"] == "weight_change"]
        self.assertEqual(steps, sorted(set(steps)), f"a step was applied twice: {steps}")
        server.stop()


class SlowWebhookReceiver:
    """A webhook receiver in this process (it outlives serve's kill -9): records
    every POST's JSON body when it arrives, answers 200 after `delay` seconds."""

    def __init__(self, delay):
        import http.server
        import json as json_module
        receiver = self
        self.delay = delay
        self.lock = threading.Lock()
        self.bodies = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *unused):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.bodies.append(json_module.loads(body))
                time.sleep(receiver.delay)
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # serve is gone

        class Quiet(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass

        self.httpd = Quiet(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def received(self):
        with self.lock:
            return list(self.bodies)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


ANNOUNCED = ("transition", "weight_change", "paused", "resumed")  # not checks, not errors


class ServeNotificationTest(unittest.TestCase):
    """Every event announced on stdout and to webhooks carries its stored seq; a
    slow webhook loses nothing to a kill -9 (at least once, from the store)."""

    def test_slow_webhook_gets_every_event_at_least_once_across_kill9(self):
        receiver = SlowWebhookReceiver(delay=1.0)
        self.addCleanup(receiver.close)
        server = Server(ENDPOINT, extra_yaml=f"notifications:\n  webhooks: [{receiver.url}]\n")
        server.start()
        self.addCleanup(server.stop)
        traffic = Traffic(server.inference_port, threads=2).start()
        self.addCleanup(traffic.stop)
        r = server.deploy({"endpoint": "recs", "variant": "canary-v2",
                           "model": {"path": f"{MODELS}/recs-v2.ubj"}, "policy": FAST})
        self.assertEqual(r.status, 201, r.body)
        dep_id = r.json()["id"]

        def announced():
            return [e for e in server.events(dep_id) if e["kind"] in ANNOUNCED]

        # Kill while the receiver is behind: events stored, not yet delivered.
        deadline = time.time() + 30
        while time.time() < deadline:
            if len(announced()) > len(receiver.received()) >= 1:
                break
            time.sleep(0.05)
        behind = len(announced()) - len(receiver.received())
        self.assertGreater(behind, 0, "the receiver was never behind")
        server.kill9()
        server.start()
        final = server.wait_state(dep_id, {"COMPLETED", "ROLLED_BACK", "FAILED"}, 90)
        self.assertEqual(final["state"], "COMPLETED", server.events(dep_id))
        stored = {e["seq"]: e for e in announced()}

        deadline = time.time() + 60
        while time.time() < deadline:
            got = {(b["deployment_id"], b["seq"]) for b in receiver.received()}
            if all((dep_id, seq) in got for seq in stored):
                break
            time.sleep(0.2)
        bodies = receiver.received()
        got = {(b["deployment_id"], b["seq"]) for b in bodies}
        missing = sorted(seq for seq in stored if (dep_id, seq) not in got)
        self.assertEqual(missing, [], f"{behind} behind at the kill; received "
                                      f"{sorted(s for _, s in got)} of {sorted(stored)}")
        for b in bodies:
            self.assertGreater(b["seq"], 0, b)
            self.assertEqual(b["event"]["seq"], b["seq"])
            self.assertEqual(b["deployment"]["id"], b["deployment_id"])
            e = stored.get(b["seq"])
            self.assertIsNotNone(e, f"delivered seq {b['seq']} is no announced event: {b}")
            self.assertEqual((b["event"]["kind"], b["reason"]), (e["kind"], e["reason"]))

        # stdout: one line per announced event, each with its stored seq.
        lines = []
        with open(server.log_path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith('{"time"'):
                    try:
                        lines.append(json.loads(line))
                    except ValueError:
                        pass  # a line cut by the kill -9
        mine = [line for line in lines if line.get("deployment_id") == dep_id]
        self.assertTrue(mine)
        for line in mine:
            e = stored.get(line["seq"])
            self.assertIsNotNone(e, f"stdout line with seq {line['seq']} is no stored event: "
                                    f"{line}")
            self.assertEqual((line["kind"], line["reason"]), (e["kind"], e["reason"]))


class ServeStoreFileTest(unittest.TestCase):
    def test_empty_database_file_is_refused_naming_it(self):
        server = Server(ENDPOINT)
        db = os.path.join(server.dir, "mlcanary.db")
        open(db, "wb").close()  # what a truncated copy or a failed restore leaves
        server.start(wait=False)
        self.addCleanup(server.stop)
        self.assertEqual(server.proc.wait(timeout=30), 2, server.logs())
        # serve.log holds stdout and stderr: the refusal is the one line that is
        # not a log line (the open files limit is logged before the store opens).
        out = "\n".join(line for line in server.logs().strip().splitlines()
                        if not line.startswith("["))
        self.assertEqual(len(out.splitlines()), 1, server.logs())
        self.assertTrue(out.startswith("mlcanary serve: "), out)
        self.assertIn(db, out)
        self.assertIn("exists but is empty (0 bytes)", out)
        self.assertEqual(os.path.getsize(db), 0)

    def test_database_file_created_by_serve_is_fine_on_restart(self):
        server = Server(ENDPOINT).start()
        self.addCleanup(server.stop)
        db = os.path.join(server.dir, "mlcanary.db")
        self.assertGreater(os.path.getsize(db), 0)
        server.kill9()
        server.start()


class ServeStartErrorTest(unittest.TestCase):
    """What the configuration asks for but cannot have at start (or says twice): one
    line on stderr, "FILE: key.path (line N): reason", exit status 2."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="mlcanary-start-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.config = os.path.join(self.dir, "serve.yaml")

    def serve(self, text):
        with open(self.config, "w") as f:
            f.write(text)
        env = dict(os.environ, MLCANARY_API_TOKEN=ADMIN)
        return subprocess.run([BIN, "serve", "--config", self.config], capture_output=True,
                              text=True, env=env, timeout=60)

    def config_text(self, inference=None, control=None, store=None, canary_model=None,
                    policy=""):
        inference = inference or f"127.0.0.1:{free_port()}"
        control = control or f"127.0.0.1:{free_port()}"
        store = store or f"sqlite:{self.dir}/mlcanary.db"
        canary_model = canary_model or f"{MODELS}/recs-v2.ubj"
        return f"""listen:
  inference: {inference}
  control: {control}
store: {store}
endpoints:
  - name: recs
    variants:
      - name: production
        weight: 1
        model:
          path: {MODELS}/recs-v1.json
      - name: canary
        weight: 0
        model:
          path: {canary_model}
{policy}"""

    def assertRefused(self, text, expected):
        p = self.serve(text)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        lines = p.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertTrue(lines[0].startswith(f"mlcanary serve: {self.config}: {expected}"),
                        lines[0])
        return lines[0]

    def test_the_config_starts_when_nothing_is_wrong(self):
        # The baseline of the cases below: the same file, nothing changed, serves.
        control = free_port()
        with open(self.config, "w") as f:
            f.write(self.config_text(control=f"127.0.0.1:{control}"))
        env = dict(os.environ, MLCANARY_API_TOKEN=ADMIN)
        proc = subprocess.Popen([BIN, "serve", "--config", self.config], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 30
            while True:
                self.assertIsNone(proc.poll(), "serve exited")
                try:
                    if request(control, "GET", "/healthz", timeout=2).status == 200:
                        break
                except OSError:
                    pass
                self.assertLess(time.time(), deadline, "serve did not become ready")
                time.sleep(0.1)
        finally:
            proc.terminate()
            proc.wait(timeout=20)

    def test_duplicate_key(self):
        text = self.config_text().replace("store:", "store: sqlite:first.db\nstore:", 1)
        self.assertRefused(text, "store (line 5): duplicate key (first at line 4)")

    def test_corrupt_model_file_names_the_variant_key(self):
        bad = os.path.join(self.dir, "corrupt.json")
        with open(bad, "w") as f:
            f.write('{"learner": garbage\n')
        line = self.assertRefused(self.config_text(canary_model=bad),
                                  "endpoints[0].variants[1].model.path (line 15): ")
        self.assertIn("corrupt.json", line)

    def test_inference_port_in_use(self):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            address = f"127.0.0.1:{taken.getsockname()[1]}"
            line = self.assertRefused(self.config_text(inference=address),
                                      "listen.inference (line 2): ")
        self.assertIn(address, line)

    def test_control_port_in_use(self):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            address = f"127.0.0.1:{taken.getsockname()[1]}"
            self.assertRefused(self.config_text(control=address), "listen.control (line 3): ")

    def test_same_port_twice(self):
        address = f"127.0.0.1:{free_port()}"
        self.assertRefused(self.config_text(inference=address, control=address),
                           f"listen.control (line 3): '{address}' has the port of "
                           "listen.inference")

    def test_store_path_under_a_file(self):
        a_file = os.path.join(self.dir, "a-file")
        open(a_file, "w").close()
        line = self.assertRefused(self.config_text(store=f"sqlite:{a_file}/x.db"),
                                  "store (line 4): ")
        self.assertIn("Not a directory", line)

    def test_policy_weight_below_the_resolution(self):
        self.assertRefused(self.config_text(policy="    policy: {initial_weight: 1e-7}\n"),
                           "endpoints[0].policy.initial_weight (line 16): weight 1e-07 must be "
                           "at least 1e-06")


if __name__ == "__main__":
    unittest.main()
