"""`mlcanary simulate` as users and scripts run it: JSON shape of API.md, exit codes,
one-line errors on stderr."""
import json
import os
import subprocess
import tempfile
import unittest

BIN = os.environ.get("MLCANARY_BIN", "build/apps/mlcanary/mlcanary")
SRC = os.environ.get("MLCANARY_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
EXAMPLES = os.path.join(SRC, "examples", "scenarios")


def run(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=60)


class SimulateJsonTest(unittest.TestCase):
    def test_healthy_rollout_json_matches_api_shape(self):
        p = run("simulate", os.path.join(EXAMPLES, "healthy-rollout.yaml"), "--output", "json")
        self.assertEqual(p.returncode, 0, p.stderr)
        doc = json.loads(p.stdout)
        self.assertEqual(doc["final_state"], "COMPLETED")
        self.assertEqual(doc["final_canary_weight"], 1)
        for e in doc["events"]:
            for key in ("minute", "state", "canary_weight", "reason"):
                self.assertIn(key, e)
        weights = [e["canary_weight"] for e in doc["events"] if e["state"] == "IN_PROGRESS"]
        self.assertEqual(weights, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1])
        self.assertEqual(doc["events"][-1], {**doc["events"][-1], "minute": 90, "state": "COMPLETED"})

    def test_rollback_json(self):
        p = run("simulate", os.path.join(EXAMPLES, "p99-regression.yaml"), "-o", "json")
        self.assertEqual(p.returncode, 0, p.stderr)
        doc = json.loads(p.stdout)
        self.assertEqual(doc["final_state"], "ROLLED_BACK")
        self.assertEqual(doc["final_canary_weight"], 0)
        states = [(e["minute"], e["state"]) for e in doc["events"]][-2:]
        self.assertEqual(states, [(28, "ROLLING_BACK"), (28, "ROLLED_BACK")])
        self.assertIn("latency", doc["events"][-2]["reason"])

    def test_text_timeline_shows_weights_and_verdicts(self):
        p = run("simulate", os.path.join(EXAMPLES, "error-spike.yaml"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("error_breached", p.stdout)
        self.assertIn("ROLLED_BACK", p.stdout)
        self.assertIn("\u2588", p.stdout)  # weight bars
        self.assertNotIn("\033[", p.stdout)  # no colour when not a terminal


class SimulateErrorTest(unittest.TestCase):
    def write(self, text):
        f = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
        f.write(text)
        f.close()
        self.addCleanup(os.unlink, f.name)
        return f.name

    def assertRefused(self, p, *needles):
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertEqual(p.stdout, "")
        lines = p.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, p.stderr)
        for n in needles:
            self.assertIn(n, lines[0])

    def test_missing_file(self):
        self.assertRefused(run("simulate", "/nonexistent/s.yaml"), "/nonexistent/s.yaml")

    def test_invalid_policy_names_file_and_field(self):
        path = self.write("policy: {steps: [0.5, 0.2]}\ntraffic_per_minute: 100\n"
                          "production: {p99_ms: 1, error_rate: 0}\n"
                          "canary: {p99_ms: 1, error_rate: 0}\nduration_minutes: 5\n")
        self.assertRefused(run("simulate", path), os.path.basename(path), "policy.steps[1]")

    def test_wrong_type_threshold(self):
        path = self.write("policy: {max_p99_ms: '100ms'}\ntraffic_per_minute: 100\n"
                          "production: {p99_ms: 1, error_rate: 0}\n"
                          "canary: {p99_ms: 1, error_rate: 0}\nduration_minutes: 5\n")
        self.assertRefused(run("simulate", path), "policy.max_p99_ms")

    def test_binary_garbage(self):
        path = self.write("\x00\x01\x02: [\n")
        p = run("simulate", path)
        self.assertEqual(p.returncode, 2, p.stderr)

    def test_too_many_checks_is_refused(self):
        path = self.write("policy: {interval: 1ms}\ntraffic_per_minute: 100\n"
                          "production: {p99_ms: 1, error_rate: 0}\n"
                          "canary: {p99_ms: 1, error_rate: 0}\nduration_minutes: 1000000\n")
        self.assertRefused(run("simulate", path), "checks")

    def test_unknown_output_format(self):
        p = run("simulate", os.path.join(EXAMPLES, "healthy-rollout.yaml"), "--output", "xml")
        self.assertEqual(p.returncode, 2)
        self.assertIn("output", p.stderr)

    def test_no_command(self):
        p = run()
        self.assertNotEqual(p.returncode, 0)


if __name__ == "__main__":
    unittest.main()
