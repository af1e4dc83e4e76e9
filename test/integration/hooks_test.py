"""Hooks (issue 15) end to end: `mlcanary serve` calling a small Python HTTP hook
receiver. A confirm_step hook that refuses holds the step (waiting_for:
hook:confirm_step) until it answers 2xx; an analysis hook that votes breached rolls
the deployment back. Every call is a `hook` event. A hook that does not answer holds
up only its own deployment: another endpoint's broken canary is rolled back meanwhile."""
import http.server
import json
import re
import threading
import time
import unittest

from harness import MODELS, Server, Traffic

ENDPOINT = f"""  - name: recs
    variants:
      - name: production
        model: {{kind: xgboost, path: {MODELS}/recs-v1.json}}
"""
# As serve_test's FAST: microsecond models trip the ratio rule on noise.
FAST = {"steps": [0.1, 0.5, 1.0], "bake": "2s", "interval": "1s", "min_invocations": 20,
        "max_latency_ratio": 1000}


class HookReceiver:
    """Answers each path with the status and body set for it (200 {} by default) and
    records every request's path and JSON body."""

    def __init__(self):
        self.lock = threading.Lock()
        self.answers = {}  # path -> (status, body dict)
        self.seen = []  # (path, body)
        self.gates = {}  # path -> threading.Event the answer waits for
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *unused):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.seen.append((self.path, json.loads(body)))
                    status, answer = receiver.answers.get(self.path, (200, {}))
                    gate = receiver.gates.get(self.path)
                if gate is not None:
                    gate.wait()
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        class Quiet(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, *unused):
                pass

        self.server = Quiet(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def answer(self, path, status, body=None):
        with self.lock:
            self.answers[path] = (status, body or {})

    def hold(self, path):
        """Requests to `path` get no answer until the returned event is set."""
        gate = threading.Event()
        with self.lock:
            self.gates[path] = gate
        return gate

    def calls(self, path):
        with self.lock:
            return [b for p, b in self.seen if p == path]

    def stop(self):
        with self.lock:
            for gate in self.gates.values():
                gate.set()
        self.server.shutdown()
        self.server.server_close()


class ServeHooksTest(unittest.TestCase):
    def setUp(self):
        self.hooks = HookReceiver()
        self.addCleanup(self.hooks.stop)
        self.server = Server(ENDPOINT).start()
        self.addCleanup(self.server.stop)
        self.traffic = Traffic(self.server.inference_port).start()
        self.addCleanup(self.traffic.stop)

    def deploy(self, policy):
        r = self.server.deploy({"endpoint": "recs", "variant": "canary-v2",
                                "model": {"kind": "xgboost", "path": f"{MODELS}/recs-v2.ubj"},
                                "policy": {**FAST, **policy}})
        self.assertEqual(r.status, 201, r.body)
        return r.json()["id"]

    def hook_events(self, dep_id, name):
        return [e for e in self.server.events(dep_id)
                if e["kind"] == "hook" and e["hook"]["name"] == name]

    def test_confirm_step_holds_until_the_hook_says_yes(self):
        self.hooks.answer("/confirm", 409, {"why": "offline eval still running"})
        dep_id = self.deploy({"hooks": {"confirm_step": {
            "url": self.hooks.url("/confirm"), "timeout": "2s", "retries": 0,
            "metadata": {"ticket": "ML-7"}}}})
        held = self.server.wait_for(
            "the step held by confirm_step",
            lambda: (lambda d: d if d.get("waiting_for") == "hook:confirm_step" else None)(
                self.server.deployment(dep_id)), timeout=60)
        self.assertAlmostEqual(held["canary_weight"], 0.1)
        self.assertEqual(held["state"], "IN_PROGRESS")
        # Asked again at every check while it refuses.
        self.server.wait_for("a second confirm_step call",
                             lambda: len(self.hooks.calls("/confirm")) >= 2, timeout=30)
        self.assertAlmostEqual(self.server.deployment(dep_id)["canary_weight"], 0.1)
        body = self.hooks.calls("/confirm")[0]
        self.assertEqual(body["hook"], "confirm_step")
        self.assertEqual(body["deployment"]["id"], dep_id)
        self.assertEqual(body["metadata"], {"ticket": "ML-7"})
        self.assertEqual(body["last_check"]["verdict"], "healthy")
        refused = self.hook_events(dep_id, "confirm_step")
        self.assertTrue(refused)
        self.assertEqual(refused[0]["hook"]["status"], 409)
        self.assertEqual(refused[0]["hook"]["outcome"], "refused")
        # Released: the rollout steps on and completes.
        self.hooks.answer("/confirm", 200)
        final = self.server.wait_state(dep_id, {"COMPLETED", "ROLLED_BACK", "FAILED"})
        self.assertEqual(final["state"], "COMPLETED", self.server.events(dep_id))
        self.assertNotIn("waiting_for", final)
        self.assertEqual(self.hook_events(dep_id, "confirm_step")[-1]["hook"]["outcome"], "ok")
        # Counted on /metrics by endpoint, hook and outcome.
        metrics = self.server.api("GET", "/metrics").body.decode()
        counts = {m.group(1): float(m.group(2)) for m in re.finditer(
            r'^mlcanary_hook_calls_total\{endpoint="recs",hook="confirm_step",'
            r'outcome="(\w+)"\} (\S+)$', metrics, re.M)}
        self.assertGreaterEqual(counts.get("refused", 0), 2, metrics)
        self.assertGreaterEqual(counts.get("ok", 0), 1, metrics)

    def test_an_analysis_hook_voting_breached_rolls_back(self):
        self.hooks.answer("/vote", 200, {"verdict": "breached", "reason": "offline AUC -4%"})
        dep_id = self.deploy({"bake": "1h", "analysis": [{"url": self.hooks.url("/vote")}],
                              "analysis_breaches_to_rollback": 2})
        final = self.server.wait_state(dep_id, {"COMPLETED", "ROLLED_BACK", "FAILED"}, timeout=60)
        self.assertEqual(final["state"], "ROLLED_BACK", self.server.events(dep_id))
        events = self.server.events(dep_id)
        checks = [e for e in events if e["kind"] == "check"]
        self.assertEqual(checks[0]["check"]["verdict"], "analysis_breached")
        self.assertEqual(checks[0]["check"]["analysis"][0]["verdict"], "breached")
        self.assertEqual(checks[0]["check"]["analysis"][0]["reason"], "offline AUC -4%")
        rollback = [e for e in events if e["to_state"] == "ROLLING_BACK"]
        self.assertIn("analysis breached on 2 consecutive checks", rollback[0]["reason"])
        self.assertGreaterEqual(len(self.hook_events(dep_id, "analysis")), 2)

    def test_a_non_http_hook_url_is_refused_naming_the_field(self):
        r = self.server.deploy({"endpoint": "recs", "variant": "canary-v2",
                                "model": {"kind": "xgboost", "path": f"{MODELS}/recs-v2.ubj"},
                                "policy": {"hooks": {"confirm_step": {"url": "ftp://ci/x"}}}})
        self.assertEqual(r.status, 400, r.body)
        self.assertIn("policy.hooks.confirm_step.url", r.body.decode())


OTHER = f"""  - name: other
    variants:
      - name: production
        model: {{kind: xgboost, path: {MODELS}/recs-v1.json}}
"""


class SlowHookTest(unittest.TestCase):
    """Each deployment is checked on a worker of its own: a hook that does not answer
    holds its own deployment only."""

    def setUp(self):
        self.hooks = HookReceiver()
        self.addCleanup(self.hooks.stop)
        self.server = Server(ENDPOINT + OTHER).start()
        self.addCleanup(self.server.stop)
        self.traffic = [Traffic(self.server.inference_port, endpoint=e).start()
                        for e in ("recs", "other")]
        self.addCleanup(lambda: [t.stop() for t in self.traffic])

    def test_a_hook_that_does_not_answer_holds_up_no_other_deployment(self):
        gate = self.hooks.hold("/slow")
        a = self.server.deploy({"endpoint": "recs", "variant": "canary-v2",
                                "model": {"kind": "xgboost", "path": f"{MODELS}/recs-v2.ubj"},
                                "policy": {**FAST, "hooks": {"confirm_step": {
                                    "url": self.hooks.url("/slow"), "timeout": "30s",
                                    "retries": 0}}}})
        self.assertEqual(a.status, 201, a.body)
        a = a.json()["id"]
        # A's check is now inside its confirm_step call, which gets no answer.
        self.server.wait_for("the confirm_step call", lambda: self.hooks.calls("/slow"),
                             timeout=60)
        # recs-v3 expects other features: every request to it is a 400.
        b = self.server.deploy({"endpoint": "other", "variant": "broken",
                                "model": {"path": f"{MODELS}/recs-v3.json"},
                                "policy": {**FAST, "bake": "1h"}})
        self.assertEqual(b.status, 201, b.body)
        final = self.server.wait_state(b.json()["id"], {"ROLLED_BACK", "COMPLETED", "FAILED"},
                                       timeout=60)
        self.assertEqual(final["state"], "ROLLED_BACK")
        # ... while A's hook call was still open: no confirm_step call of A has ended.
        self.assertEqual([e for e in self.server.events(a) if e["kind"] == "hook"], [],
                         "B was rolled back only after A's hook call ended")
        self.assertEqual(self.server.deployment(a)["state"], "IN_PROGRESS")
        gate.set()


if __name__ == "__main__":
    unittest.main()
