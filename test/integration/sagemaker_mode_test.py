"""`mlcanary serve` with `backend: sagemaker`, end to end, offline: the real binary
drives moto's SageMaker, CloudWatch, SNS, DynamoDB and Application Auto Scaling
through the checking proxy of test/aws/moto_harness.py, which verifies every
request's SigV4 signature with botocore and validates its parameters against
botocore's service model. moto lacks UpdateEndpoint and percentile statistics;
the harness extends it (see test/aws/README.md). The test plays CloudWatch:
it feeds per-variant metrics with PutMetricData, healthy for one canary and
breaching for another."""
import json
import os
import subprocess
import sys
import threading
import time
import unittest

import boto3
from botocore.config import Config

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "aws"))
from moto_harness import Harness  # noqa: E402

from harness import ADMIN, BIN, READER, Server, request  # noqa: E402

REGION = "us-east-1"
TABLE = "mlcanary-deployments"
ENDPOINT = "recs"
FAST = {"step": 0.3, "bake": "3s", "interval": "1s", "min_invocations": 20,
        "max_latency_ratio": 3}


def attr(message, name):
    """A String message attribute of a recorded SNS Publish."""
    return message["message_attributes"].get(name, {}).get("StringValue")


class SageMakerServer(Server):
    """`mlcanary serve` in SageMaker mode, AWS through the harness, with the
    inference front on listen.inference (InvokeEndpoint answered by the harness's
    extension (e), per TargetVariant)."""

    READY_PROBES = (("inference_port", "/ping"), ("control_port", "/healthz"))

    def __init__(self, harness, topic_arn, extra_yaml=""):
        super().__init__("", extra_yaml="")
        with open(self.config, "w") as f:
            f.write(f"""backend: sagemaker
listen:
  inference: 127.0.0.1:{self.inference_port}
  control: 127.0.0.1:{self.control_port}
store: dynamodb:{TABLE}
controller:
  interval: 500ms
aws:
  region: {REGION}
  endpoint_url: {harness.url}
  timeout: 5s
sagemaker:
  poll_interval: 200ms
  wait_timeout: 30s
  autoscaling: {{min_capacity: 1, max_capacity: 4, target_invocations_per_instance: 500}}
  inference: {{timeout: 5s, refresh_interval: 1s}}
notifications:
  sns_topic_arn: {topic_arn}
{extra_yaml}
endpoints:
  - name: {ENDPOINT}
""")

    def start(self, wait=True):
        os.environ.update(AWS_ACCESS_KEY_ID=Harness.ACCESS_KEY,
                          AWS_SECRET_ACCESS_KEY=Harness.SECRET_KEY)
        return super().start(wait)


class MetricsFeeder:
    """Plays SageMaker's metric publisher: every 0.5 s, per variant, invocations,
    errors and model latencies (microseconds, as SageMaker reports them)."""

    def __init__(self, cloudwatch):
        self.cloudwatch = cloudwatch
        self.profiles = {}  # variant -> (latency_ms, error_rate)
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def set(self, variant, latency_ms, error_rate):
        with self.lock:
            self.profiles[variant] = (latency_ms, error_rate)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopping.set()
        self.thread.join(timeout=10)

    def run(self):
        while not self.stopping.wait(0.5):
            with self.lock:
                profiles = dict(self.profiles)
            for variant, (latency_ms, error_rate) in profiles.items():
                dims = [{"Name": "EndpointName", "Value": ENDPOINT},
                        {"Name": "VariantName", "Value": variant}]
                n = 25
                data = [{"MetricName": "Invocations", "Dimensions": dims, "Value": n},
                        {"MetricName": "Invocation4XXErrors", "Dimensions": dims, "Value": 0},
                        {"MetricName": "Invocation5XXErrors", "Dimensions": dims,
                         "Value": round(n * error_rate)}]
                data += [{"MetricName": "ModelLatency", "Dimensions": dims,
                          "Value": latency_ms * 1000 * (0.8 + 0.02 * i), "Unit": "Microseconds"}
                         for i in range(20)]
                data += [{"MetricName": "OverheadLatency", "Dimensions": dims, "Value": 900.0,
                          "Unit": "Microseconds"}]
                try:
                    self.cloudwatch.put_metric_data(Namespace="AWS/SageMaker", MetricData=data)
                except Exception as e:  # the next tick tries again
                    print("metrics feeder:", e, file=sys.stderr)


class SageMakerModeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.harness = Harness.start()
        session = boto3.Session(aws_access_key_id=Harness.ACCESS_KEY,
                                aws_secret_access_key=Harness.SECRET_KEY, region_name=REGION)
        cfg = Config(retries={"max_attempts": 1})
        # Seeding goes to moto directly, so the proxy's log holds only mlcanary's requests.
        cls.sm = session.client("sagemaker", endpoint_url=cls.harness.moto_url, config=cfg)
        cls.cw = session.client("cloudwatch", endpoint_url=cls.harness.moto_url, config=cfg)
        cls.sns = session.client("sns", endpoint_url=cls.harness.moto_url, config=cfg)
        cls.ddb = session.client("dynamodb", endpoint_url=cls.harness.moto_url, config=cfg)
        cls.aas = session.client("application-autoscaling", endpoint_url=cls.harness.moto_url,
                                 config=cfg)
        for model in ("recs-v1", "recs-v2", "recs-v3", "recs-v4"):
            cls.sm.create_model(ModelName=model, ExecutionRoleArn=(
                "arn:aws:iam::123456789012:role/sagemaker-execution"),
                PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/recs:1"})
        cls.sm.create_endpoint_config(EndpointConfigName="recs-initial", ProductionVariants=[
            {"VariantName": "prod", "ModelName": "recs-v1", "InstanceType": "ml.m5.large",
             "InitialInstanceCount": 2, "InitialVariantWeight": 1.0}])
        cls.sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="recs-initial")
        cls.topic = cls.sns.create_topic(Name="mlcanary-events")["TopicArn"]
        # The table as README "SageMaker" documents it.
        cls.ddb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                             AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                   {"AttributeName": "sk", "AttributeType": "S"},
                                                   {"AttributeName": "active_set",
                                                    "AttributeType": "S"}],
                             KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                        {"AttributeName": "sk", "KeyType": "RANGE"}],
                             GlobalSecondaryIndexes=[{
                                 "IndexName": "active-deployments",
                                 "KeySchema": [{"AttributeName": "active_set", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "KEYS_ONLY"}}])
        cls.feeder = MetricsFeeder(cls.cw).start()
        cls.feeder.set("prod", latency_ms=40, error_rate=0.0)
        cls.server = SageMakerServer(cls.harness, cls.topic).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.feeder.stop()
        cls.harness.stop()

    def tearDown(self):
        violations = self.harness.violations()
        self.assertEqual(violations, [], "requests not signed like botocore or invalid per "
                         "botocore's service model:\n" + json.dumps(violations, indent=1)[:4000])

    # helpers
    def live_weights(self):
        ep = self.sm.describe_endpoint(EndpointName=ENDPOINT)
        total = sum(v.get("CurrentWeight", 0) for v in ep["ProductionVariants"])
        return {v["VariantName"]: v.get("CurrentWeight", 0) / total
                for v in ep["ProductionVariants"]}

    def eventually(self, predicate, what, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if predicate():
                return
            time.sleep(0.1)
        self.fail(f"not within {timeout}s: {what}; SageMaker serves {self.live_weights()}")

    def settle(self, expected):
        """Waits until SageMaker serves exactly `expected` ({variant: share}): the
        controller finishes a completion or rollback (removing a variant) after the
        state is recorded."""
        deadline = time.time() + 30
        while time.time() < deadline:
            live = self.live_weights()
            if live.keys() == expected.keys() and all(
                    abs(live[v] - w) < 1e-9 for v, w in expected.items()):
                return
            time.sleep(0.1)
        self.assertEqual(self.live_weights(), expected)

    def only_the_current_config(self):
        configs = [c["EndpointConfigName"] for c in
                   self.sm.list_endpoint_configs()["EndpointConfigs"]]
        current = self.sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"]
        return configs == [current]

    def proxy_requests(self, operation):
        return [r for r in self.harness.requests() if r["operation"] == operation]

    def deploy(self, model, variant):
        r = self.server.deploy({"endpoint": ENDPOINT, "variant": variant,
                                "model": {"kind": "sagemaker", "name": model},
                                "instances": 1, "policy": FAST})
        self.assertEqual(r.status, 201, r.body)
        return r.json()

    def watch_until(self, dep_id, states, timeout=120):
        """Polls the store (API) and SageMaker until the deployment reaches `states`;
        returns the distinct canary weights each side showed, in order."""
        store_seen, live_seen = [], []
        deadline = time.time() + timeout
        while time.time() < deadline:
            d = self.server.deployment(dep_id)
            live = self.live_weights().get(d["canary_variant"])
            for seen, w in ((store_seen, d["canary_weight"]), (live_seen, live)):
                if w is not None and (not seen or abs(seen[-1] - w) > 1e-9):
                    seen.append(round(w, 6))
            if d["state"] in states:
                return d, store_seen, live_seen
            time.sleep(0.1)
        self.fail(f"{dep_id} still {d['state']}: {json.dumps(self.server.events(dep_id))[-3000:]}")

    # the tests, in the order they run (unittest sorts by name)
    def invoke(self, user, features=(1.0, 2.0)):
        return request(self.server.inference_port, "POST",
                       f"/v1/endpoints/{ENDPOINT}/invocations",
                       {"user_id": user, "features": list(features)})

    def test_0_inference_front_answers_through_invoke_endpoint(self):
        self.harness.reset()
        r = self.invoke("u-1", (1.5, 2.0))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["variant"], "prod")
        self.assertEqual(r.json()["predictions"], [3.5])
        calls = self.proxy_requests("InvokeEndpoint")
        self.assertEqual(len(calls), 1)
        self.assertEqual(calls[0]["params"]["TargetVariant"], "prod")
        self.assertEqual(calls[0]["params"]["EndpointName"], ENDPOINT)
        # Bad input: 400 naming the field, SageMaker not called.
        r = request(self.server.inference_port, "POST", f"/v1/endpoints/{ENDPOINT}/invocations",
                    {"user_id": "u-1", "features": "many"})
        self.assertEqual(r.status, 400)
        self.assertIn("features", r.json()["error"]["message"])
        self.assertEqual(len(self.proxy_requests("InvokeEndpoint")), 1)
        # A model error: 502 with the model's message.
        self.harness.inject_fault("InvokeEndpoint", count=1, status=424, code="ModelError",
                                  message="Received client error (400) from primary: bad row")
        r = self.invoke("u-1")
        self.assertEqual(r.status, 502, r.body)
        self.assertIn("bad row", r.json()["error"]["message"])
        # Recorded per variant: /metrics shows SageMaker traffic before CloudWatch does.
        metrics = self.server.api("GET", "/metrics").body.decode()
        line = next(l for l in metrics.splitlines()
                    if l.startswith("mlcanary_invocations_total{") and 'variant="prod"' in l)
        self.assertGreaterEqual(float(line.split()[-1]), 2)

    def test_1_healthy_canary_is_stepped_to_completion(self):
        self.harness.reset()
        self.feeder.set("canary-v2", latency_ms=45, error_rate=0.0)
        # Throttling and 5xx on the weight changes: retried with backoff, invisible to the rollout.
        self.harness.inject_fault("UpdateEndpointWeightsAndCapacities", count=2, status=400,
                                  code="ThrottlingException", message="Rate exceeded")
        dep = self.deploy("recs-v2", "canary-v2")
        # Readying a canary takes SageMaker minutes: the API answers PENDING at
        # once, the controller creates the variant and starts the split.
        self.assertEqual(dep["state"], "PENDING")
        self.assertEqual(dep["canary_weight"], 0)
        dep = self.server.wait_state(dep["id"], {"IN_PROGRESS", "FAILED"}, timeout=30)
        self.assertEqual(dep["state"], "IN_PROGRESS")
        self.assertAlmostEqual(dep["canary_weight"], 0.1)
        self.eventually(lambda: abs(self.live_weights().get("canary-v2", 0) - 0.1) < 1e-9,
                        "SageMaker serves the canary at 10 %")
        self.harness.inject_fault("UpdateEndpointWeightsAndCapacities", count=1, status=503,
                                  code="ServiceUnavailable", message="try again")

        final, store_seen, live_seen = self.watch_until(dep["id"], {"COMPLETED", "ROLLED_BACK",
                                                                    "FAILED"})
        self.assertEqual(final["state"], "COMPLETED",
                         json.dumps(self.server.events(dep["id"]))[-3000:])
        self.assertEqual(store_seen, [0.1, 0.4, 0.7, 1.0])
        self.assertTrue(set(live_seen) <= set(store_seen), (live_seen, store_seen))
        # Each UpdateEndpointWeightsAndCapacities that went through set a store weight.
        sent = [next(v["DesiredWeight"] for v in r["params"]["DesiredWeightsAndCapacities"]
                     if v["VariantName"] == "canary-v2")
                for r in self.proxy_requests("UpdateEndpointWeightsAndCapacities")]
        self.assertGreaterEqual(len(sent), 4 + 3)  # four steps, three refused attempts
        self.assertTrue(set(round(w, 6) for w in sent) <= set(store_seen), sent)

        # After COMPLETED the old production variant is gone and the canary is production.
        self.settle({"canary-v2": 1.0})
        ep = self.server.endpoint(ENDPOINT)
        self.assertEqual([v["name"] for v in ep["variants"]], ["canary-v2"])
        # The inference front followed: every user on the new production variant.
        for u in range(20):
            r = self.invoke(f"user-{u}")
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.json()["variant"], "canary-v2")
        # Autoscaling: the canary registered with the configured bounds and policy.
        targets = self.aas.describe_scalable_targets(ServiceNamespace="sagemaker")
        ids = {t["ResourceId"]: t for t in targets["ScalableTargets"]}
        self.assertIn(f"endpoint/{ENDPOINT}/variant/canary-v2", ids)
        self.assertEqual(ids[f"endpoint/{ENDPOINT}/variant/canary-v2"]["MaxCapacity"], 4)
        self.assertNotIn(f"endpoint/{ENDPOINT}/variant/prod", ids)
        policies = self.aas.describe_scaling_policies(ServiceNamespace="sagemaker")
        tt = [p for p in policies["ScalingPolicies"]
              if p["ResourceId"] == f"endpoint/{ENDPOINT}/variant/canary-v2"]
        self.assertEqual(len(tt), 1)
        cfg = tt[0]["TargetTrackingScalingPolicyConfiguration"]
        self.assertEqual(cfg["TargetValue"], 500)
        self.assertEqual(cfg["PredefinedMetricSpecification"]["PredefinedMetricType"],
                         "SageMakerVariantInvocationsPerInstance")
        # Endpoint configs: unique names, the unused ones deleted.
        # The replaced config is deleted just after the update that replaced it.
        self.eventually(self.only_the_current_config, "only the endpoint's config is left")
        self.feeder.set("prod", latency_ms=40, error_rate=0.0)

        # SNS heard every transition, with attributes for filtering.
        messages = [m for m in self.harness.sns_messages() if m["topic_arn"] == self.topic]
        states = [attr(m, "state") for m in messages if attr(m, "deployment_id") == dep["id"]]
        for state in ("PENDING", "IN_PROGRESS", "COMPLETED"):
            self.assertIn(state, states)
        self.assertTrue(all(attr(m, "endpoint") == ENDPOINT for m in messages), messages)
        body = json.loads(messages[-1]["message"])
        self.assertEqual(body["deployment"]["id"], dep["id"])

        # The DynamoDB store holds the record.
        item = self.ddb.get_item(TableName=TABLE, ConsistentRead=True,
                                 Key={"pk": {"S": f"deployment#{dep['id']}"},
                                      "sk": {"S": "record"}})
        self.assertIn("Item", item)
        self.assertEqual(json.loads(item["Item"]["doc"]["S"])["state"], "COMPLETED")

    def test_2_breaching_canary_is_rolled_back(self):
        self.harness.reset()
        production = "canary-v2"  # since test 1
        self.settle({production: 1.0})
        self.feeder.set(production, latency_ms=40, error_rate=0.0)
        self.feeder.set("canary-v3", latency_ms=400, error_rate=0.2)
        dep = self.deploy("recs-v3", "canary-v3")
        final, store_seen, _ = self.watch_until(dep["id"], {"ROLLED_BACK", "COMPLETED",
                                                            "FAILED"})
        self.assertEqual(final["state"], "ROLLED_BACK")
        self.assertEqual([w for w in store_seen if w > 0][0], 0.1)  # after PENDING's 0
        # Rolled back to production at once, then the canary removed.
        self.settle({production: 1.0})
        reasons = [e["reason"] for e in self.server.events(dep["id"])]
        self.assertTrue(any("error" in r or "latency" in r for r in reasons), reasons)
        states = [attr(m, "state") for m in self.harness.sns_messages()
                  if attr(m, "deployment_id") == dep["id"]]
        self.assertIn("ROLLED_BACK", states)

    def test_3_validation_error_fails_cleanly_with_traffic_on_production(self):
        production = "canary-v2"
        self.settle({production: 1.0})
        self.eventually(self.only_the_current_config, "test 2's configs cleaned up")
        self.harness.reset()
        before = self.sm.describe_endpoint(EndpointName=ENDPOINT)
        self.harness.inject_fault("UpdateEndpoint", count=5, status=400,
                                  code="ValidationException",
                                  # Not "Cannot update in-progress endpoint": that one is
                                  # retried (another update is running), this one is not.
                                  message="1 validation error detected: Value 'ml.bogus' at "
                                          "'instanceType' failed to satisfy constraint")
        r = self.server.deploy({"endpoint": ENDPOINT, "variant": "canary-v4",
                                "model": {"kind": "sagemaker", "name": "recs-v4"},
                                "policy": FAST})
        self.assertEqual(r.status, 201, r.body)
        failed = self.server.wait_state(r.json()["id"], {"FAILED", "IN_PROGRESS"}, timeout=30)
        self.assertEqual(failed["state"], "FAILED")
        reasons = [e["reason"] for e in self.server.events(failed["id"])]
        self.assertTrue(any("ValidationException" in r for r in reasons), reasons)
        # Not retried (a validation error), and traffic stayed where it was.
        self.assertEqual(len(self.proxy_requests("UpdateEndpoint")), 1)
        self.assertEqual(self.live_weights(), {production: 1.0})
        # The config made for it is not left behind.
        configs = [c["EndpointConfigName"] for c in
                   self.sm.list_endpoint_configs()["EndpointConfigs"]]
        self.assertEqual(configs, [before["EndpointConfigName"]])

    def test_4_cli_works_unchanged(self):
        env = dict(os.environ, MLCANARY_API_TOKEN=READER,
                   MLCANARY_URL=f"http://127.0.0.1:{self.server.control_port}")
        out = subprocess.run([BIN, "list", "--endpoint", ENDPOINT, "-o", "json"],
                             env=env, capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        listed = json.loads(out.stdout)
        listed = listed["deployments"] if isinstance(listed, dict) else listed
        self.assertEqual(sorted(d["canary_variant"] for d in listed),
                         ["canary-v2", "canary-v3", "canary-v4"])
        out = subprocess.run([BIN, "status", listed[0]["id"]], env=env, capture_output=True,
                             text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)

    def test_5_bad_setups_are_refused_naming_what_is_wrong(self):
        def serve(config_text, env):
            path = os.path.join(self.server.dir, "bad.yaml")
            with open(path, "w") as f:
                f.write(config_text)
            return subprocess.run([BIN, "serve", "--config", path], env=env,
                                  capture_output=True, text=True, timeout=60)

        base = dict(os.environ, MLCANARY_API_TOKEN=ADMIN, AWS_ACCESS_KEY_ID=Harness.ACCESS_KEY,
                    AWS_SECRET_ACCESS_KEY=Harness.SECRET_KEY)
        config = (f"backend: sagemaker\nlisten: {{control: 127.0.0.1:0}}\n"
                  f"store: sqlite:{self.server.dir}/bad.db\n"
                  f"aws: {{region: {REGION}, endpoint_url: {self.harness.url}}}\n"
                  "endpoints:\n  - name: NAME\n")
        # An endpoint SageMaker does not have.
        out = serve(config.replace("NAME", "no-such-endpoint"), base)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("no-such-endpoint", out.stderr)
        self.assertIn("does not exist", out.stderr)
        # No credentials anywhere.
        env = {k: v for k, v in base.items() if not k.startswith("AWS_")}
        env["HOME"] = self.server.dir  # no ~/.aws/credentials there
        out = serve(config.replace("NAME", ENDPOINT), env)
        self.assertEqual(out.returncode, 2, out.stderr)
        self.assertIn("AWS_ACCESS_KEY_ID", out.stderr)
        # A DynamoDB table that does not exist.
        out = serve(config.replace("NAME", ENDPOINT).replace(
            f"sqlite:{self.server.dir}/bad.db", "dynamodb:no-such-table"), base)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("no-such-table", out.stderr)


if __name__ == "__main__":
    unittest.main()
