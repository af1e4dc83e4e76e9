#!/usr/bin/env python3
"""Weight propagation in a fleet: from the leader's commit of a new weight to every one of
three `mlcanary serve` replicas' routers using it, and the same for rollbacks.

Starts a real PostgreSQL (test/integration/postgres.py: initdb + pg_ctl in a temp dir),
three replicas on it (fleet mode) with steady inference traffic, and a poller that reads
each replica's GET /v1/endpoints/recs (what its router serves) in turn, as fast as it
answers. Every step is timed from its weight_change event's `time` (the leader stamps it
just before the transaction that records it, so the figure includes the commit) to the
first poll round in which all three replicas serve the new weight. Resolution: one poll
round (three local HTTP requests, ~1-3 ms).

  steps:     a canary stepped 0.02 -> 1.0 by the controller (50 changes)
  rollbacks: --rollbacks canaries (rb0, rb1, ...) at 0.5 rolled back by `POST .../rollback` on a replica
             that does not lead; timed from the ROLLED_BACK event to canary weight 0
             everywhere

Usage: bench/fleet/propagation.py [--bin build/apps/mlcanary/mlcanary] [--rollbacks 20]
"""
import argparse
import datetime
import os
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "test", "integration"))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bin", default=os.environ.get("MLCANARY_BIN", "build/apps/mlcanary/mlcanary"))
    p.add_argument("--rollbacks", type=int, default=20)
    p.add_argument("--step", type=float, default=0.02)
    return p.parse_args()


ARGS = parse_args()
os.environ["MLCANARY_BIN"] = os.path.abspath(ARGS.bin)

from harness import MODELS, READER, Server, Traffic, request  # noqa: E402
from postgres import Postgres  # noqa: E402

ENDPOINTS = f"""  - name: recs
    variants:
      - name: production
        model: {{kind: xgboost, path: {MODELS}/recs-v1.json}}
"""


class Poller(threading.Thread):
    """Polls every replica's router; for each canary weight (rounded to 1e-6), the time
    of the first round in which all replicas served it."""

    def __init__(self, replicas):
        super().__init__(daemon=True)
        self.replicas = replicas
        self.first_all = {}
        self.rounds = 0
        self.round_s = []  # each poll round's duration (the resolution)
        self.variant = "canary"  # the variant watched
        self.stop_flag = threading.Event()

    def weight(self, r, variant):
        reply = request(r.control_port, "GET", "/v1/endpoints/recs", token=READER, timeout=5)
        for v in reply.json()["variants"]:
            if v["name"] == variant:
                return round(v["weight"], 6)
        return 0.0

    def run(self):
        while not self.stop_flag.is_set():
            variant = self.variant
            began = time.time()
            seen = {self.weight(r, variant) for r in self.replicas}
            now = time.time()
            self.rounds += 1
            self.round_s.append(now - began)
            if len(seen) == 1:
                self.first_all.setdefault(seen.pop(), now)


def event_time(e):
    return datetime.datetime.fromisoformat(e["time"].replace("Z", "+00:00")).timestamp()


def percentile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q * len(xs)) - 1))]


def summary(name, ms):
    print(f"{name}: n={len(ms)} p50={percentile(ms, 0.5):.1f} ms p99={percentile(ms, 0.99):.1f} ms"
          f" max={max(ms):.1f} ms mean={statistics.mean(ms):.1f} ms")


def leader_and_other(replicas):
    for _ in range(200):
        for r in replicas:
            body = r.api("GET", "/metrics").body.decode()
            if "\nmlcanary_fleet_leader 1" in body:
                return r, next(o for o in replicas if o is not r)
        time.sleep(0.05)
    raise RuntimeError("no leader")


def steps(replicas, poller):
    _, other = leader_and_other(replicas)
    policy = {"initial_weight": ARGS.step, "step": ARGS.step, "bake": "100ms",
              "interval": "100ms", "min_invocations": 1, "max_latency_ratio": 1000}
    r = other.deploy({"endpoint": "recs", "variant": "canary", "policy": policy,
                      "model": {"kind": "xgboost", "path": f"{MODELS}/recs-v2.ubj"}})
    assert r.status == 201, r.body
    dep = r.json()["id"]
    other.wait_state(dep, {"COMPLETED", "ROLLED_BACK", "FAILED"}, timeout=300)
    time.sleep(0.5)
    out = []
    for e in other.events(dep):
        if e["kind"] == "weight_change":
            w = round(e["weight_after"], 6)
            if w in poller.first_all:
                out.append((poller.first_all[w] - event_time(e)) * 1000)
    return out


def rollbacks(replicas, poller, n):
    out = []
    for i in range(n):
        _, other = leader_and_other(replicas)
        poller.variant = f"rb{i}"
        poller.first_all.clear()
        policy = {"initial_weight": 0.5, "step": 0.1, "bake": "1h", "interval": "1s",
                  "min_invocations": 1, "max_latency_ratio": 1000}
        r = other.deploy({"endpoint": "recs", "variant": f"rb{i}", "policy": policy,
                          "model": {"kind": "xgboost", "path": f"{MODELS}/recs-v2.ubj"}})
        assert r.status == 201, r.body
        dep = r.json()["id"]
        other.wait_for("0.5 everywhere", lambda: 0.5 in poller.first_all, timeout=30)
        poller.first_all.clear()
        assert other.api("POST", f"/v1/deployments/{dep}/rollback").status in (200, 202)
        other.wait_state(dep, {"ROLLED_BACK"}, timeout=30)
        other.wait_for("0 everywhere", lambda: 0.0 in poller.first_all, timeout=30)
        ev = [e for e in other.events(dep) if e.get("to_state") == "ROLLED_BACK"]
        out.append((poller.first_all[0.0] - event_time(ev[0])) * 1000)
    return out


def main():
    pg = Postgres().start()
    replicas = [Server(ENDPOINTS, interval="100ms", store=pg.url(), lease="10s")
                for _ in range(3)]
    traffic = []
    try:
        for r in replicas:
            r.start(wait=False)
        for r in replicas:
            r.wait_ready()
        traffic = [Traffic(r.inference_port, threads=1).start() for r in replicas]
        poller = Poller(replicas)
        poller.start()
        s = steps(replicas, poller)
        summary(f"step propagation (commit -> 3/3 replicas), {len(s)} changes seen on all 3"
                " (a step that the next one overtook within a poll round is not counted)", s)
        if ARGS.rollbacks > 0:
            rb = rollbacks(replicas, poller, ARGS.rollbacks)
            summary(f"rollback propagation (ROLLED_BACK -> weight 0 on 3/3), {len(rb)} rollbacks",
                    rb)
        poller.stop_flag.set()
        poller.join()
        summary(f"poll round (3 GETs: the resolution), {poller.rounds} rounds",
                [x * 1000 for x in poller.round_s])
    finally:
        for t in traffic:
            t.stop()
        for r in replicas:
            r.stop()
        pg.cleanup()


if __name__ == "__main__":
    main()
