"""The moto harness, driven with boto3 through its checking proxy: moto's extensions
(UpdateEndpoint, percentile GetMetricData, SNS publish record), the signature and
parameter checks, and fault injection."""

import datetime
import gzip
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.loaders
from botocore.config import Config

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import moto_harness  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/sagemaker"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/model:1"


class HarnessTestCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.harness = moto_harness.Harness.start()

    @classmethod
    def tearDownClass(cls):
        cls.harness.stop()

    def setUp(self):
        self.harness.reset()

    def client(self, service, secret=moto_harness.SECRET_KEY):
        return boto3.client(
            service, endpoint_url=self.harness.url, region_name="us-east-1",
            aws_access_key_id=moto_harness.ACCESS_KEY, aws_secret_access_key=secret,
            config=Config(retries={"mode": "standard", "total_max_attempts": 1}))

    def assertNoViolations(self):
        self.assertEqual(self.harness.violations(), [])

    def signed_post(self, service, headers, body, secret=moto_harness.SECRET_KEY):
        """POSTs `body` signed with botocore for `service`; returns (status, body)."""
        request = botocore.awsrequest.AWSRequest(method="POST", url=self.harness.url + "/",
                                                 data=body, headers=headers)
        botocore.auth.SigV4Auth(
            botocore.credentials.Credentials(moto_harness.ACCESS_KEY, secret), service,
            "us-east-1").add_auth(request)
        prepared = request.prepare()
        http_request = urllib.request.Request(prepared.url, data=body, method="POST",
                                              headers=dict(prepared.headers))
        try:
            with urllib.request.urlopen(http_request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()


class SageMakerTest(HarnessTestCase):
    def setUp(self):
        super().setUp()
        sm = self.client("sagemaker")
        suffix = self.id().rsplit(".", 1)[-1].lower().replace("_", "-")[-30:]
        self.endpoint = f"ep-{suffix}"
        for model in ("model-v1", "model-v2"):
            try:
                sm.create_model(ModelName=model, ExecutionRoleArn=ROLE,
                                PrimaryContainer={"Image": IMAGE})
            except sm.exceptions.ClientError:
                pass  # created by an earlier test: moto's state is process-wide
        sm.create_endpoint_config(
            EndpointConfigName=f"{self.endpoint}-cfg-1",
            ProductionVariants=[{"VariantName": "stable", "ModelName": "model-v1",
                                 "InstanceType": "ml.m5.xlarge", "InitialInstanceCount": 2,
                                 "InitialVariantWeight": 1.0}])
        sm.create_endpoint(EndpointName=self.endpoint,
                           EndpointConfigName=f"{self.endpoint}-cfg-1")
        sm.create_endpoint_config(
            EndpointConfigName=f"{self.endpoint}-cfg-2",
            ProductionVariants=[
                {"VariantName": "stable", "ModelName": "model-v1",
                 "InstanceType": "ml.m5.xlarge", "InitialInstanceCount": 2,
                 "InitialVariantWeight": 0.9},
                {"VariantName": "canary", "ModelName": "model-v2",
                 "InstanceType": "ml.m5.xlarge", "InitialInstanceCount": 1,
                 "InitialVariantWeight": 0.1}])
        self.sm = sm

    def variants(self):
        described = self.sm.describe_endpoint(EndpointName=self.endpoint)
        return {v["VariantName"]: v for v in described["ProductionVariants"]}, described

    def test_update_endpoint_switches_to_the_new_config_variants(self):
        self.sm.update_endpoint(EndpointName=self.endpoint,
                                EndpointConfigName=f"{self.endpoint}-cfg-2")
        variants, described = self.variants()
        self.assertEqual(described["EndpointConfigName"], f"{self.endpoint}-cfg-2")
        self.assertEqual(described["EndpointStatus"], "InService")
        self.assertEqual(variants["stable"]["CurrentWeight"], 0.9)
        self.assertEqual(variants["stable"]["DesiredInstanceCount"], 2)
        self.assertEqual(variants["canary"]["CurrentWeight"], 0.1)
        self.assertEqual(variants["canary"]["CurrentInstanceCount"], 1)

        self.sm.update_endpoint_weights_and_capacities(
            EndpointName=self.endpoint, DesiredWeightsAndCapacities=[
                {"VariantName": "stable", "DesiredWeight": 0.5, "DesiredInstanceCount": 2},
                {"VariantName": "canary", "DesiredWeight": 0.5, "DesiredInstanceCount": 1}])
        variants, _ = self.variants()
        self.assertEqual(variants["canary"]["CurrentWeight"], 0.5)
        self.assertEqual(variants["stable"]["CurrentWeight"], 0.5)
        operations = [r["operation"] for r in self.harness.requests()]
        self.assertIn("UpdateEndpoint", operations)
        self.assertIn("UpdateEndpointWeightsAndCapacities", operations)
        self.assertTrue(all(r["signature_ok"] for r in self.harness.requests()))
        self.assertNoViolations()

    def test_update_endpoint_retains_variant_properties_when_asked(self):
        self.sm.update_endpoint_weights_and_capacities(
            EndpointName=self.endpoint, DesiredWeightsAndCapacities=[
                {"VariantName": "stable", "DesiredWeight": 0.7, "DesiredInstanceCount": 4}])
        self.sm.update_endpoint(EndpointName=self.endpoint,
                                EndpointConfigName=f"{self.endpoint}-cfg-2",
                                RetainAllVariantProperties=True)
        variants, _ = self.variants()
        self.assertEqual(variants["stable"]["CurrentWeight"], 0.7)
        self.assertEqual(variants["stable"]["CurrentInstanceCount"], 4)
        self.assertEqual(variants["canary"]["CurrentWeight"], 0.1)  # new: from the config
        self.assertNoViolations()

    def test_update_endpoint_to_a_missing_config_is_a_validation_error(self):
        with self.assertRaises(self.sm.exceptions.ClientError) as raised:
            self.sm.update_endpoint(EndpointName=self.endpoint, EndpointConfigName="nope")
        self.assertEqual(raised.exception.response["Error"]["Code"], "ValidationException")
        self.assertIn("nope", raised.exception.response["Error"]["Message"])
        with self.assertRaises(self.sm.exceptions.ClientError) as raised:
            self.sm.update_endpoint(EndpointName="no-such-endpoint",
                                    EndpointConfigName=f"{self.endpoint}-cfg-2")
        self.assertEqual(raised.exception.response["Error"]["Code"], "ValidationException")
        variants, _ = self.variants()
        self.assertEqual(set(variants), {"stable"})

    def test_injected_throttling_reaches_the_client_then_clears(self):
        self.harness.inject_fault("UpdateEndpointWeightsAndCapacities", count=1, status=400,
                                  code="ThrottlingException", message="Rate exceeded")
        weights = [{"VariantName": "stable", "DesiredWeight": 1.0}]
        with self.assertRaises(self.sm.exceptions.ClientError) as raised:
            self.sm.update_endpoint_weights_and_capacities(
                EndpointName=self.endpoint, DesiredWeightsAndCapacities=weights)
        error = raised.exception.response
        self.assertEqual(error["Error"]["Code"], "ThrottlingException")
        self.assertEqual(error["Error"]["Message"], "Rate exceeded")
        self.assertEqual(error["ResponseMetadata"]["HTTPStatusCode"], 400)
        self.sm.update_endpoint_weights_and_capacities(
            EndpointName=self.endpoint, DesiredWeightsAndCapacities=weights)
        faults = [r.get("fault") for r in self.harness.requests()
                  if r["operation"] == "UpdateEndpointWeightsAndCapacities"]
        self.assertEqual(faults, ["ThrottlingException", None])

    def test_fault_after_forwarding_takes_effect_but_answers_the_error(self):
        self.harness.inject_fault("UpdateEndpoint", count=1, status=500, code="InternalFailure",
                                  message="answer lost", after_forwarding=True)
        with self.assertRaises(self.sm.exceptions.ClientError) as raised:
            self.sm.update_endpoint(EndpointName=self.endpoint,
                                   EndpointConfigName=f"{self.endpoint}-cfg-2")
        self.assertEqual(raised.exception.response["Error"]["Code"], "InternalFailure")
        _, described = self.variants()
        self.assertEqual(described["EndpointConfigName"], f"{self.endpoint}-cfg-2")
        records = [r for r in self.harness.requests() if r["operation"] == "UpdateEndpoint"]
        self.assertEqual([(r.get("fault"), r.get("forwarded")) for r in records],
                         [("InternalFailure", True)])
        self.assertNoViolations()


class SageMakerRuntimeTest(SageMakerTest):
    """Extension (e): InvokeEndpoint per TargetVariant, validated as rest-json."""

    def set_variant(self, variant, **behaviour):
        request = urllib.request.Request(
            self.harness.url + "/_harness/runtime-variants", method="POST",
            data=json.dumps(dict(endpoint=self.endpoint, variant=variant, **behaviour)).encode())
        with urllib.request.urlopen(request, timeout=30) as response:
            self.assertEqual(response.status, 200)

    def test_invoke_endpoint_answers_per_target_variant(self):
        self.sm.update_endpoint(EndpointName=self.endpoint,
                                EndpointConfigName=f"{self.endpoint}-cfg-2")
        self.set_variant("canary", scale=10)
        rt = self.client("sagemaker-runtime")
        for variant, want in (("stable", [3.0, 7.0]), ("canary", [30.0, 70.0])):
            r = rt.invoke_endpoint(EndpointName=self.endpoint, Body=b"1,2\n3,4\n",
                                   ContentType="text/csv", TargetVariant=variant)
            self.assertEqual(json.loads(r["Body"].read())["predictions"], want)
            self.assertEqual(r["InvokedProductionVariant"], variant)
        record = [r for r in self.harness.requests() if r["operation"] == "InvokeEndpoint"][-1]
        self.assertEqual(record["params"]["TargetVariant"], "canary")
        self.assertEqual(record["params"]["EndpointName"], self.endpoint)
        self.assertTrue(record["signature_ok"])
        self.assertNoViolations()

    def test_unknown_variant_or_endpoint_is_a_validation_error(self):
        rt = self.client("sagemaker-runtime")
        with self.assertRaises(rt.exceptions.ClientError) as raised:
            rt.invoke_endpoint(EndpointName=self.endpoint, Body=b"1", ContentType="text/csv",
                               TargetVariant="nope")
        self.assertEqual(raised.exception.response["Error"]["Code"], "ValidationError")
        with self.assertRaises(rt.exceptions.ClientError) as raised:
            rt.invoke_endpoint(EndpointName="no-such-endpoint", Body=b"1",
                               ContentType="text/csv")
        self.assertIn("not found", raised.exception.response["Error"]["Message"])
        self.assertNoViolations()

    # The SageMaker tests of the base class are not run again here.
    test_update_endpoint_switches_to_the_new_config_variants = None
    test_update_endpoint_retains_variant_properties_when_asked = None
    test_update_endpoint_to_a_missing_config_is_a_validation_error = None
    test_injected_throttling_reaches_the_client_then_clears = None
    test_fault_after_forwarding_takes_effect_but_answers_the_error = None


class CloudWatchTest(HarnessTestCase):
    def put_latencies(self, cw, endpoint, values, when):
        cw.put_metric_data(Namespace="AWS/SageMaker", MetricData=[
            {"MetricName": "ModelLatency", "Unit": "Microseconds", "Timestamp": when,
             "Value": float(v), "Dimensions": [{"Name": "EndpointName", "Value": endpoint},
                                               {"Name": "VariantName", "Value": "canary"}]}
            for v in values])

    def query(self, endpoint, stat, query_id):
        return {"Id": query_id, "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": "AWS/SageMaker", "MetricName": "ModelLatency",
                       "Dimensions": [{"Name": "EndpointName", "Value": endpoint},
                                      {"Name": "VariantName", "Value": "canary"}]},
            "Period": 60, "Stat": stat}}

    def check_percentiles(self, cw, endpoint):
        now = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0)
        minute = now - datetime.timedelta(minutes=3)
        self.put_latencies(cw, endpoint, range(1, 101), minute + datetime.timedelta(seconds=5))
        self.put_latencies(cw, endpoint, [7, 3, 5], minute + datetime.timedelta(minutes=1))
        result = cw.get_metric_data(
            StartTime=minute, EndTime=now, ScanBy="TimestampAscending",
            MetricDataQueries=[self.query(endpoint, "p99", "p99"),
                               self.query(endpoint, "p50", "p50"),
                               self.query(endpoint, "p90.5", "p90dot5"),
                               self.query(endpoint, "Sum", "total"),
                               self.query(endpoint, "Maximum", "max")])
        by_id = {r["Id"]: r for r in result["MetricDataResults"]}
        self.assertEqual(by_id["p99"]["Values"], [99.0, 7.0])  # nearest rank
        self.assertEqual(by_id["p50"]["Values"], [50.0, 5.0])
        self.assertEqual(by_id["p90dot5"]["Values"], [91.0, 7.0])
        self.assertEqual(by_id["total"]["Values"], [5050.0, 15.0])
        self.assertEqual(by_id["max"]["Values"], [100.0, 7.0])
        self.assertEqual(len(by_id["p99"]["Timestamps"]), 2)

    def test_percentile_and_sum_statistics_over_json(self):
        cw = self.client("cloudwatch")
        self.check_percentiles(cw, "ep-cw-json")
        for request in self.harness.requests():
            self.assertEqual(request["protocol"], "json")
        self.assertNoViolations()

    def test_percentile_and_sum_statistics_over_query(self):
        query_cw = self.query_protocol_client()
        self.check_percentiles(query_cw, "ep-cw-query")
        self.assertTrue(self.harness.requests())
        for request in self.harness.requests():
            self.assertEqual(request["protocol"], "query")
        self.assertNoViolations()

    def query_protocol_client(self):
        """A boto3 CloudWatch client speaking the legacy Query protocol (form bodies,
        XML answers): botocore's own model with the protocol switched to query."""
        model = botocore.loaders.Loader().load_service_model("cloudwatch", "service-2")
        model = json.loads(json.dumps(model))
        model["metadata"]["protocol"] = "query"
        model["metadata"]["protocols"] = ["query"]
        directory = tempfile.mkdtemp(prefix="harness-cw-")
        version = model["metadata"]["apiVersion"]
        os.makedirs(os.path.join(directory, "cloudwatch", version))
        with open(os.path.join(directory, "cloudwatch", version, "service-2.json"), "w") as f:
            json.dump(model, f)
        session = boto3.session.Session()
        session._session.get_component("data_loader").search_paths.insert(0, directory)
        return session.client(
            "cloudwatch", endpoint_url=self.harness.url, region_name="us-east-1",
            aws_access_key_id=moto_harness.ACCESS_KEY,
            aws_secret_access_key=moto_harness.SECRET_KEY,
            config=Config(retries={"mode": "standard", "total_max_attempts": 1}))

    def test_statistic_values_and_value_arrays_are_stored(self):
        cw = self.client("cloudwatch")
        now = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0)
        when = now - datetime.timedelta(minutes=2)
        dims = [{"Name": "EndpointName", "Value": "ep-sets"}]
        cw.put_metric_data(Namespace="AWS/SageMaker", MetricData=[
            {"MetricName": "Invocations", "Dimensions": dims, "Timestamp": when,
             "StatisticValues": {"SampleCount": 4, "Sum": 40, "Minimum": 10, "Maximum": 10}},
            {"MetricName": "Invocations", "Dimensions": dims, "Timestamp": when,
             "Values": [1, 2], "Counts": [3, 1]}])
        query = {"Id": "s", "MetricStat": {"Metric": {"Namespace": "AWS/SageMaker",
                                                      "MetricName": "Invocations",
                                                      "Dimensions": dims},
                                           "Period": 300, "Stat": "Sum"}}
        result = cw.get_metric_data(StartTime=now - datetime.timedelta(minutes=5), EndTime=now,
                                    MetricDataQueries=[query])
        self.assertEqual(result["MetricDataResults"][0]["Values"], [45.0])
        query["MetricStat"]["Stat"] = "p99"
        result = cw.get_metric_data(StartTime=now - datetime.timedelta(minutes=5), EndTime=now,
                                    MetricDataQueries=[query])
        self.assertEqual(result["MetricDataResults"][0]["Values"], [10.0])
        self.assertNoViolations()


class SnsTest(HarnessTestCase):
    def test_publish_with_message_attributes_is_recorded(self):
        sns = self.client("sns")
        topic = sns.create_topic(Name="mlcanary-events")["TopicArn"]
        sns.publish(TopicArn=topic, Subject="deployment d-1", Message='{"state":"Stepping"}',
                    MessageAttributes={
                        "state": {"DataType": "String", "StringValue": "Stepping"},
                        "endpoint": {"DataType": "String", "StringValue": "recs"}})
        messages = self.harness.sns_messages()
        self.assertEqual(len(messages), 1)
        self.assertEqual(messages[0]["topic_arn"], topic)
        self.assertEqual(messages[0]["message"], '{"state":"Stepping"}')
        self.assertEqual(messages[0]["subject"], "deployment d-1")
        self.assertEqual(messages[0]["message_attributes"], {
            "state": {"DataType": "String", "StringValue": "Stepping"},
            "endpoint": {"DataType": "String", "StringValue": "recs"}})
        publish = [r for r in self.harness.requests() if r["operation"] == "Publish"][0]
        self.assertEqual(publish["params"]["MessageAttributes"]["state"]["StringValue"],
                         "Stepping")
        self.assertNoViolations()

    def test_injected_fault_uses_the_query_error_format(self):
        sns = self.client("sns")
        topic = sns.create_topic(Name="mlcanary-faults")["TopicArn"]
        self.harness.inject_fault("Publish", count=1, status=503, code="ServiceUnavailable",
                                  message="try later")
        with self.assertRaises(sns.exceptions.ClientError) as raised:
            sns.publish(TopicArn=topic, Message="x")
        self.assertEqual(raised.exception.response["Error"]["Code"], "ServiceUnavailable")
        self.assertEqual(raised.exception.response["Error"]["Message"], "try later")
        self.assertEqual(self.harness.sns_messages(), [])


class DynamoDbAndAutoScalingTest(HarnessTestCase):
    def test_dynamodb_table_item_and_transaction(self):
        ddb = self.client("dynamodb")
        ddb.create_table(TableName="deployments", BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
        ddb.put_item(TableName="deployments", Item={"id": {"S": "d-1"}, "version": {"N": "1"}},
                     ConditionExpression="attribute_not_exists(id)")
        ddb.transact_write_items(TransactItems=[
            {"Update": {"TableName": "deployments", "Key": {"id": {"S": "d-1"}},
                        "UpdateExpression": "SET version = :new",
                        "ConditionExpression": "version = :old",
                        "ExpressionAttributeValues": {":new": {"N": "2"}, ":old": {"N": "1"}}}},
            {"Put": {"TableName": "deployments", "Item": {"id": {"S": "d-2"}}}}])
        item = ddb.get_item(TableName="deployments", Key={"id": {"S": "d-1"}})["Item"]
        self.assertEqual(item["version"], {"N": "2"})
        with self.assertRaises(ddb.exceptions.ConditionalCheckFailedException):
            ddb.put_item(TableName="deployments", Item={"id": {"S": "d-1"}},
                         ConditionExpression="attribute_not_exists(id)")
        self.assertNoViolations()

    def test_autoscaling_register_and_policy(self):
        aas = self.client("application-autoscaling")
        resource = "endpoint/recs/variant/canary"
        aas.register_scalable_target(
            ServiceNamespace="sagemaker", ResourceId=resource,
            ScalableDimension="sagemaker:variant:DesiredInstanceCount",
            MinCapacity=1, MaxCapacity=10)
        aas.put_scaling_policy(
            PolicyName="invocations", ServiceNamespace="sagemaker", ResourceId=resource,
            ScalableDimension="sagemaker:variant:DesiredInstanceCount",
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": 1000.0, "ScaleOutCooldown": 60, "ScaleInCooldown": 300,
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}})
        targets = aas.describe_scalable_targets(ServiceNamespace="sagemaker",
                                                ResourceIds=[resource])["ScalableTargets"]
        self.assertEqual([(t["MinCapacity"], t["MaxCapacity"]) for t in targets], [(1, 10)])
        self.assertNoViolations()


class ChecksTest(HarnessTestCase):
    def test_a_wrong_secret_is_a_signature_violation_and_still_forwarded(self):
        sm = self.client("sagemaker", secret="not-the-secret")
        sm.list_endpoints()
        violations = self.harness.violations()
        self.assertEqual(len(violations), 1)
        self.assertEqual(violations[0]["kind"], "signature")
        self.assertEqual(violations[0]["operation"], "ListEndpoints")
        self.assertIn("signature mismatch", violations[0]["detail"])
        self.assertFalse(self.harness.requests()[0]["signature_ok"])

    def test_a_body_missing_a_required_member_is_a_validation_violation(self):
        status, body = self.signed_post(
            "sagemaker", {"Content-Type": "application/x-amz-json-1.1",
                          "X-Amz-Target": "SageMaker.CreateEndpointConfig"},
            json.dumps({"ProductionVariants": [{"VariantName": "a", "ModelName": "m",
                                                "InitialInstanceCount": 0}]}).encode())
        violations = self.harness.violations()
        self.assertEqual([v["kind"] for v in violations], ["validation"], violations)
        self.assertIn('Missing required parameter in input: "EndpointConfigName"',
                      violations[0]["detail"])
        self.assertIn("InitialInstanceCount", violations[0]["detail"])
        self.assertTrue(self.harness.requests()[0]["signature_ok"])

    def test_a_query_parameter_outside_the_shape_is_a_violation(self):
        self.signed_post("sns", {"Content-Type": "application/x-www-form-urlencoded"},
                         b"Action=CreateTopic&Version=2010-03-31&Name=t1&Colour=red")
        violations = self.harness.violations()
        self.assertEqual(len(violations), 1, violations)
        self.assertIn("Colour", violations[0]["detail"])

    def test_a_signed_header_changed_in_transit_is_a_violation(self):
        body = b'{"EndpointName":"x"}'
        request = botocore.awsrequest.AWSRequest(
            method="POST", url=self.harness.url + "/", data=body,
            headers={"Content-Type": "application/x-amz-json-1.1",
                     "X-Amz-Target": "SageMaker.DescribeEndpoint"})
        botocore.auth.SigV4Auth(botocore.credentials.Credentials(
            moto_harness.ACCESS_KEY, moto_harness.SECRET_KEY), "sagemaker",
            "us-east-1").add_auth(request)
        headers = dict(request.prepare().headers)
        # The body changes after signing.
        tampered = urllib.request.Request(self.harness.url + "/", data=b'{"EndpointName":"y"}',
                                          method="POST", headers=headers)
        with self.assertRaises(urllib.error.HTTPError):
            urllib.request.urlopen(tampered, timeout=30)  # moto: endpoint y not found
        self.assertEqual([v["kind"] for v in self.harness.violations()], ["signature"])

    def test_no_authorization_header_is_answered_403_like_aws(self):
        request = urllib.request.Request(
            self.harness.url + "/", data=b"{}", method="POST",
            headers={"Content-Type": "application/x-amz-json-1.1",
                     "X-Amz-Target": "SageMaker.ListEndpoints"})
        with self.assertRaises(urllib.error.HTTPError) as raised:
            urllib.request.urlopen(request, timeout=30)
        self.assertEqual(raised.exception.code, 403)
        self.assertEqual(raised.exception.headers["X-Amzn-ErrorType"],
                         "MissingAuthenticationToken")
        self.assertEqual(self.harness.violations()[0]["kind"], "signature")

    def test_gzip_bodies_are_checked_decompressed_and_forwarded(self):
        body = gzip.compress(json.dumps({"Namespace": "Test/Gzip", "MetricData": [
            {"MetricName": "m", "Value": 1.0}]}).encode())
        status, _ = self.signed_post("monitoring", {
            "Content-Type": "application/x-amz-json-1.0", "Content-Encoding": "gzip",
            "X-Amz-Target": "GraniteServiceVersion20100801.PutMetricData",
            "x-amzn-query-mode": "true"}, body)
        self.assertEqual(status, 200)
        self.assertNoViolations()

    def test_control_endpoints_over_http(self):
        fault = json.dumps({"operation": "ListEndpoints", "count": 2, "status": 400,
                            "code": "ThrottlingException", "message": "Rate exceeded"})
        request = urllib.request.Request(self.harness.url + "/_harness/faults",
                                         data=fault.encode(), method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            self.assertEqual(response.status, 200)
        sm = self.client("sagemaker")
        for _ in range(2):
            with self.assertRaises(sm.exceptions.ClientError):
                sm.list_endpoints()
        sm.list_endpoints()
        for path in ("requests", "violations", "sns-messages"):
            with urllib.request.urlopen(f"{self.harness.url}/_harness/{path}",
                                        timeout=30) as response:
                self.assertIsInstance(json.loads(response.read()), list)
        with urllib.request.urlopen(f"{self.harness.url}/_harness/requests") as response:
            self.assertEqual(len(json.loads(response.read())), 3)
        urllib.request.urlopen(urllib.request.Request(
            self.harness.url + "/_harness/reset", data=b"", method="POST"), timeout=30)
        self.assertEqual(self.harness.requests(), [])


class CliTest(unittest.TestCase):
    def test_ready_file_then_clean_shutdown_on_sigterm(self):
        with tempfile.TemporaryDirectory() as directory:
            ready = os.path.join(directory, "ready.json")
            process = subprocess.Popen(
                [sys.executable, moto_harness.__file__, "--ready-file", ready],
                stderr=subprocess.PIPE)
            try:
                deadline = time.monotonic() + 60
                while not os.path.exists(ready):
                    self.assertIsNone(process.poll(), "harness exited early")
                    self.assertLess(time.monotonic(), deadline, "no ready file after 60 s")
                    time.sleep(0.05)
                with open(ready) as f:
                    info = json.load(f)
                self.assertEqual(info["pid"], process.pid)
                with urllib.request.urlopen(info["url"] + "/_harness/violations",
                                            timeout=30) as response:
                    self.assertEqual(json.loads(response.read()), [])
                process.send_signal(signal.SIGTERM)
                self.assertEqual(process.wait(timeout=30), 0)
            finally:
                if process.poll() is None:
                    process.kill()
                process.wait()
                process.stderr.close()


if __name__ == "__main__":
    unittest.main()
