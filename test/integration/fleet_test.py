"""Fleet mode for real: three `mlcanary serve` replicas on one PostgreSQL server that the
test starts (initdb + pg_ctl), inference traffic through all three. One replica holds the
controller's lease and runs the controller; every replica's router follows the endpoint
records in the store.

- a good canary COMPLETED while the leader is killed -9 twice mid-rollout: another replica
  takes over within the lease time (+ a few s), the events have no gap and no weight step
  twice, and after every step each replica's router serves the stored weight;
- a broken canary (a model that answers 400: the feature schema changed) ROLLED_BACK, on
  every replica;
- the webhook (configured on every replica) gets each announced event from the leader only:
  exactly once without failover, at most one duplicate per leader kill;
- PostgreSQL stopped for 20 s mid-rollout: no replica's weight moves, inference keeps
  answering, the store errors are counted and logged; once it is back a replica leads again
  and the rollout finishes.

FleetTest judges from the gateways' embedded metrics (each replica's own); FleetPrometheusTest
starts the real Prometheus (Debian's package) scraping the three replicas' /metrics every
second and judges from it (`metrics: {source: prometheus}`): a good canary COMPLETED and a
broken one ROLLED_BACK, with no traffic through the leader (its own metrics see nothing:
only Prometheus, summing the other replicas, can judge)."""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

from harness import MODELS, READER, SRC, Server, Traffic
from postgres import Postgres
from prometheus import Prometheus

ENDPOINTS = f"""  - name: recs
    variants:
      - name: production
        model: {{kind: xgboost, path: {MODELS}/recs-v1.json}}
"""
LEASE = 3  # seconds (controller.lease)
# Latencies here are microseconds, where the ratio rule trips on noise: relaxed.
POLICY = {"initial_weight": 0.1, "step": 0.1, "bake": "1500ms", "interval": "500ms",
          "min_invocations": 5, "max_latency_ratio": 1000}


class FleetHelpers:
    """Three replicas on a fresh PostgreSQL server, traffic through each; what both test
    classes use (a mixin of unittest.TestCase)."""

    def start_fleet(self, extra_yaml="", lease=LEASE):
        self.pg = Postgres().start()
        self.addCleanup(self.pg.cleanup)
        self.replicas = [Server(ENDPOINTS, interval="100ms", store=self.pg.url(), lease=f"{lease}s",
                                extra_yaml=extra_yaml)
                         for _ in range(3)]
        for r in self.replicas:
            self.addCleanup(r.stop)
            r.start(wait=False)
        for r in self.replicas:
            r.wait_ready()
        self.traffic = [Traffic(r.inference_port, threads=1).start() for r in self.replicas]
        self.addCleanup(lambda: [t.stop() for t in self.traffic])

    # --- helpers ---

    @staticmethod
    def alive(r):
        return r.proc is not None and r.proc.poll() is None

    @staticmethod
    def metric(r, name):
        body = r.api("GET", "/metrics").body.decode()
        m = re.search(rf"^{name} (\S+)$", body, re.M)
        return float(m.group(1)) if m else None

    def leaders(self):
        out = []
        for r in self.replicas:
            if self.alive(r):
                try:
                    if self.metric(r, "mlcanary_fleet_leader") == 1:
                        out.append(r)
                except OSError:
                    pass
        return out

    def leader(self, timeout=LEASE + 5):
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = self.leaders()
            self.assertLessEqual(len(found), 1, "two replicas lead at once")
            if found:
                return found[0]
            time.sleep(0.05)
        self.fail("no replica became the leader within %ss" % timeout)

    def any_replica(self):
        return next(r for r in self.replicas if self.alive(r))

    def served(self, r):
        """The weights this replica's router serves, from its /metrics (which needs no store)."""
        body = r.api("GET", "/metrics").body.decode()
        return {m.group(1): float(m.group(2)) for m in re.finditer(
            r'^mlcanary_fleet_variant_weight\{endpoint="recs",variant="([^"]+)"\} (\S+)$',
            body, re.M)}

    def served_once_settled(self, r, expected, timeout=10):
        """served(r) once it equals `expected`, or as it is after `timeout` s: a replica
        removes the variant that left (the old production, the rolled-back canary) a
        moment after it serves the new weights."""
        deadline = time.time() + timeout
        while self.served(r) != expected and time.time() < deadline:
            time.sleep(0.1)
        return self.served(r)

    def served_by_api(self, r):
        """The same, as GET /v1/endpoints/recs on that replica shows it."""
        return {v["name"]: v["weight"] for v in r.endpoint("recs")["variants"]}

    def wait_replicas_serve(self, canary, weight, timeout=3, dep=None):
        """Every live replica's router serves `canary` at `weight` (the stored weight), or,
        given `dep`, at the weight stored for it now (the leader may have stepped on)."""
        deadline = time.time() + timeout
        while True:
            if dep is not None:
                d = self.any_replica().deployment(dep)
                if d["state"] != "IN_PROGRESS":
                    return
                weight = d["canary_weight"]
            seen = {r.control_port: self.served(r) for r in self.replicas if self.alive(r)}
            if all(abs(s.get(canary, 0.0) - weight) < 1e-6 for s in seen.values()):
                return
            if time.time() > deadline:
                self.fail(f"replicas do not serve {canary} at {weight} (stored): {seen}")
            time.sleep(0.05)

    def follow_rollout(self, dep, canary, until, kill_at=(), timeout=90):
        """Polls the deployment until it reaches a state in `until`; at each new stored weight
        checks every replica serves it; kills the leader -9 when the weight reaches each of
        `kill_at` (and restarts it). Returns the final deployment and the failover times."""
        kill_at = list(kill_at)
        failovers = []
        last = None
        deadline = time.time() + timeout
        while time.time() < deadline:
            d = self.any_replica().deployment(dep)
            if d["state"] in until:
                return d, failovers
            if d["state"] == "IN_PROGRESS" and d["canary_weight"] != last:
                last = d["canary_weight"]
                self.wait_replicas_serve(canary, last, dep=dep)
                if kill_at and last >= kill_at[0] - 1e-9:
                    kill_at.pop(0)
                    failovers.append(self.kill_leader())
            time.sleep(0.1)
        self.fail(f"deployment {dep} not in {until} after {timeout}s: "
                  f"{self.any_replica().events(dep)[-5:]}")

    def kill_leader(self):
        old = self.leader()
        old.kill9()
        killed_at = time.time()
        new = self.leader(timeout=LEASE + 5)
        took = time.time() - killed_at
        self.assertIsNot(new, old)
        old.start()  # back as a follower, on the same ports
        return took

    def check_events(self, dep):
        events = self.any_replica().events(dep)
        self.assertEqual([e["seq"] for e in events], list(range(1, len(events) + 1)),
                         "a gap in the events")
        steps = [e["weight_after"] for e in events if e["kind"] == "weight_change"]
        self.assertEqual(steps, sorted(set(steps)), f"a step was applied twice: {steps}")
        return events

    def deploy(self, model, policy=POLICY, variant="canary"):
        # Asked on a replica that is not the leader: recorded, the leader readies it.
        leader = self.leader()
        other = next(r for r in self.replicas if r is not leader)
        r = other.deploy({"endpoint": "recs", "variant": variant, "model": model,
                          "policy": policy})
        self.assertEqual(r.status, 201, r.body)
        return r.json()["id"]

    def assertInferenceAnswered(self, since):
        for t, before in zip(self.traffic, since):
            now = t.snapshot()
            ok = sum(c.get(200, 0) for c in now.values())
            ok_before = sum(c.get(200, 0) for c in before.values())
            self.assertGreater(ok, ok_before, f"a replica stopped answering: {now}")


class WebhookReceiver:
    """src/http/testing/receiver.py on a free port; requests() are the bodies."""

    def __init__(self, test):
        d = tempfile.mkdtemp(prefix="mlcanary-hook-")
        self.out = os.path.join(d, "requests")
        port_file = os.path.join(d, "port")
        self.proc = subprocess.Popen([sys.executable, os.path.join(
            SRC, "src", "http", "testing", "receiver.py"),
            "--port-file", port_file, "--out", self.out])
        test.addCleanup(lambda: (self.proc.kill(), self.proc.wait()))
        for _ in range(200):
            if os.path.exists(port_file):
                break
            time.sleep(0.05)
        with open(port_file) as f:
            self.url = f"http://127.0.0.1:{f.read().strip()}/hook"

    def requests(self):
        if not os.path.exists(self.out):
            return []
        with open(self.out) as f:
            return [json.loads(json.loads(line)["body"]) for line in f if line.strip()]


class FleetTest(FleetHelpers, unittest.TestCase):
    def setUp(self):
        # Every replica has the webhook; only the leader delivers it (from the outbox).
        self.hook = WebhookReceiver(self)
        self.start_fleet(f"notifications:\n  webhooks: ['{self.hook.url}']")

    def assertWebhooksOnce(self, dep, kills):
        """Each announced event of `dep` reached the webhook; only an event in flight when a
        leader was killed (between its 2xx and its cursor's save) may have come twice."""
        announced = [e["seq"] for e in self.any_replica().events(dep)
                     if e["kind"] not in ("check", "error")]
        deadline = time.time() + 20
        while True:
            got = [b["seq"] for b in self.hook.requests() if b["deployment_id"] == dep]
            if set(got) >= set(announced) or time.time() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(sorted(set(got)), announced, "an event was not delivered")
        duplicates = len(got) - len(set(got))
        self.assertLessEqual(duplicates, kills, f"delivered more than once: {sorted(got)}")
        return duplicates

    def test_good_canary_completes_through_two_leader_kills(self):
        dep = self.deploy({"kind": "xgboost", "path": f"{MODELS}/recs-v2.ubj"})
        final, failovers = self.follow_rollout(dep, "canary", {"COMPLETED", "ROLLED_BACK",
                                                                "FAILED", "CANCELLED"},
                                               kill_at=(0.3, 0.6))
        self.assertEqual(final["state"], "COMPLETED", self.any_replica().events(dep))
        self.assertEqual(len(failovers), 2)
        for took in failovers:
            self.assertLess(took, LEASE + 5)
        print(f"\nfailover (kill -9 to a new leader): {', '.join('%.2fs' % t for t in failovers)}"
              f" with a {LEASE}s lease")
        events = self.check_events(dep)
        steps = [e["weight_after"] for e in events if e["kind"] == "weight_change"]
        self.assertGreaterEqual(len(steps), 5, steps)
        duplicates = self.assertWebhooksOnce(dep, kills=2)
        print(f"webhooks: {duplicates} event(s) delivered twice across 2 leader kills")
        for r in self.replicas:
            r.wait_ready()
        self.wait_replicas_serve("canary", 1.0)
        # Each replica removes the old production variant once it follows the
        # completion (a moment after it serves the canary at 100 %).
        for r in self.replicas:
            self.assertEqual(self.served_once_settled(r, {"canary": 1.0}), {"canary": 1.0})
            self.assertEqual(self.served_by_api(r), {"canary": 1.0})

    def test_broken_canary_is_rolled_back_on_every_replica(self):
        # recs-v3 expects other features: every request to it is a 400.
        dep = self.deploy({"path": f"{MODELS}/recs-v3.json"},
                          policy=dict(POLICY, step=0.3, bake="1h"))
        final, _ = self.follow_rollout(dep, "canary", {"ROLLED_BACK", "COMPLETED", "FAILED"})
        self.assertEqual(final["state"], "ROLLED_BACK", self.any_replica().events(dep))
        self.check_events(dep)
        self.wait_replicas_serve("production", 1.0)
        for r in self.replicas:
            self.assertEqual(self.served_once_settled(r, {"production": 1.0}),
                             {"production": 1.0})
        self.assertTrue(any(400 in t.snapshot().get("canary", {}) for t in self.traffic))
        self.assertEqual(self.assertWebhooksOnce(dep, kills=0), 0)

    def test_the_store_down_for_20s_holds_the_controller_and_inference_goes_on(self):
        dep = self.deploy({"kind": "xgboost", "path": f"{MODELS}/recs-v2.ubj"},
                          policy=dict(POLICY, bake="2s"))
        # Mid-rollout, between two steps.
        d = None
        for _ in range(200):
            d = self.any_replica().deployment(dep)
            if d["state"] == "IN_PROGRESS" and d["canary_weight"] >= 0.2 - 1e-9:
                break
            time.sleep(0.05)
        self.assertEqual(d["state"], "IN_PROGRESS")
        self.pg.stop()
        stopped_at = time.time()
        # What the replicas serve when the store went away (a step may have just committed).
        time.sleep(0.5)
        frozen = [self.served(r) for r in self.replicas]
        before = [t.snapshot() for t in self.traffic]
        errors_before = [self.metric(r, "mlcanary_fleet_endpoint_sync_errors_total")
                         for r in self.replicas]
        while time.time() - stopped_at < 20:
            time.sleep(1)
            self.assertEqual([self.served(r) for r in self.replicas], frozen,
                             "a weight moved while the store was down")
        self.assertInferenceAnswered(before)
        for r, b in zip(self.replicas, errors_before):
            self.assertGreater(self.metric(r, "mlcanary_fleet_endpoint_sync_errors_total"), b,
                               r.logs())
        self.assertEqual(self.leaders(), [], "a replica leads without the store")
        logs = "".join(r.logs() for r in self.replicas)
        self.assertIn("no longer the controller's leader", logs)
        self.pg.start_again()
        final, _ = self.follow_rollout(dep, "canary", {"COMPLETED", "ROLLED_BACK", "FAILED"})
        self.assertEqual(final["state"], "COMPLETED", self.any_replica().events(dep))
        self.check_events(dep)
        self.wait_replicas_serve("canary", 1.0)


# A check every 4 scrapes (src/prometheus/README.md, "Windows").
PROMETHEUS_POLICY = dict(POLICY, step=0.3, bake="4s", interval="4s")


class FleetPrometheusTest(FleetHelpers, unittest.TestCase):
    """The leader judges from Prometheus, which scrapes every replica's /metrics."""

    def setUp(self):
        self.prom = Prometheus(scrape_interval="1s", token=READER)
        self.addCleanup(self.prom.cleanup)
        # A long lease: the leader must stay put (a 3-s lease can lapse on a loaded box).
        self.start_fleet(f"metrics: {{source: prometheus, url: '{self.prom.url}'}}", lease=10)
        self.prom.start([f"127.0.0.1:{r.control_port}" for r in self.replicas])
        deadline = time.time() + 15
        while self.prom.up_targets() < 3:
            self.assertLess(time.time(), deadline, "prometheus does not scrape the 3 replicas: "
                            + self.prom.logs())
            time.sleep(0.2)
        # No traffic through the leader: its own (embedded) metrics would see no canary
        # request, so only what Prometheus gathers from the others can judge.
        self.leader_index = self.replicas.index(self.leader())
        self.traffic[self.leader_index].stop()

    def canary_requests(self):
        """Canary answers per replica, the leader's (none) first."""
        counts = [sum(t.snapshot().get("canary", {}).values()) for t in self.traffic]
        return [counts[self.leader_index]] + [c for i, c in enumerate(counts)
                                              if i != self.leader_index]

    def test_good_canary_completes_judged_from_prometheus(self):
        dep = self.deploy({"kind": "xgboost", "path": f"{MODELS}/recs-v2.ubj"},
                          policy=PROMETHEUS_POLICY)
        final, _ = self.follow_rollout(dep, "canary", {"COMPLETED", "ROLLED_BACK", "FAILED",
                                                       "CANCELLED"})
        self.assertEqual(final["state"], "COMPLETED", self.any_replica().events(dep))
        self.check_events(dep)
        self.wait_replicas_serve("canary", 1.0)
        self.assertEqual(self.leaders(), [self.replicas[self.leader_index]])
        leader, *others = self.canary_requests()
        self.assertEqual(leader, 0)
        self.assertTrue(all(n > 0 for n in others), others)

    def test_broken_canary_is_rolled_back_judged_from_prometheus(self):
        # recs-v3 expects other features: every request to it is a 400.
        dep = self.deploy({"path": f"{MODELS}/recs-v3.json"},
                          policy=dict(PROMETHEUS_POLICY, bake="1h"))
        final, _ = self.follow_rollout(dep, "canary", {"ROLLED_BACK", "COMPLETED", "FAILED"})
        self.assertEqual(final["state"], "ROLLED_BACK", self.any_replica().events(dep))
        self.check_events(dep)
        self.wait_replicas_serve("production", 1.0)
        self.assertEqual(self.leaders(), [self.replicas[self.leader_index]])
        self.assertEqual(self.canary_requests()[0], 0)
        errors = self.prom.query('sum(mlcanary_invocation_4xx_errors_total'
                                 '{endpoint="recs",variant="canary"})')
        self.assertTrue(errors and float(errors[0]["value"][1]) > 0, errors)


if __name__ == "__main__":
    unittest.main()
