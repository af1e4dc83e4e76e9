"""`mlcanary demo` end to end (issue 6, `make demo`): the real binary runs the
embedded service, traffic and four rollouts (with --fast), ends with the
expected outcomes and leaves nothing running or listening. recs-v5 (two features
swapped) is rolled back on paired divergence in its shadow phase: no user got
an answer from it."""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import unittest

from harness import BIN, MODELS


def listening(port):
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class DemoTest(unittest.TestCase):
    def test_four_rollouts_end_as_expected_and_nothing_is_left(self):
        proc = subprocess.run([BIN, "demo", "--fast", "--models", MODELS],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=240)
        out = proc.stdout.decode(errors="replace")
        self.assertEqual(proc.returncode, 0, out[-6000:])
        self.assertNotIn("\033[", out, "colours only on a terminal")

        # Where the service was, as printed.
        inference = re.search(r"inference\s+http://127\.0\.0\.1:(\d+)/v1/endpoints/recs", out)
        control = re.search(r"control\s+http://127\.0\.0\.1:(\d+)", out)
        dashboard = re.search(r"dashboard\s+http://127\.0\.0\.1:(\d+)/", out)
        data_dir = re.search(r"data dir\s+(\S+)", out)
        for m in (inference, control, dashboard, data_dir):
            self.assertIsNotNone(m, out[:3000])
        self.assertEqual(control.group(1), dashboard.group(1))

        # The summary: one row per deployment with its final state, time and checks.
        summary = out[out.rindex("Summary"):]
        for model, state in (("recs-v2.ubj", "COMPLETED"), ("recs-v3.json", "ROLLED_BACK"),
                             ("recs-v4.json", "ROLLED_BACK"), ("recs-v5.ubj", "ROLLED_BACK")):
            row = re.search(rf"^\s+dep-\S+\s+{re.escape(model)}\s+(\S+)\s+([\d.]+)s\s+(\d+)\s+(.*)$",
                            summary, re.M)
            self.assertIsNotNone(row, summary)
            self.assertEqual(row.group(1), state, summary)
            self.assertGreater(int(row.group(3)), 0, "checks")
            self.assertTrue(row.group(4).strip(), "a reason")

        # Live progress: checks with both variants' values, the weight steps and the verdicts.
        self.assertRegex(out, r"\u2588+\u00b7* +10% \u2502")
        self.assertRegex(out, r"weight 10% \u2192 30%")
        self.assertRegex(out, r"weight 60% \u2192 100%|IN_PROGRESS \u2192 COMPLETED")
        self.assertIn("error breached", out)
        self.assertRegex(out, r"latency breached.*production|latency breached")
        self.assertIn("IN_PROGRESS \u2192 ROLLING_BACK", out)

        # recs-v5: shadow, then rolled back on divergence at weight 0; users never reached it.
        v5 = out[out.index("deploy recs-v5.ubj"):out.rindex("Summary")]
        self.assertIn("shadow phase started", v5)
        self.assertIn("divergence breached", v5)
        self.assertRegex(v5, r"rollback: prediction divergence breached")
        self.assertNotRegex(v5, r"\u2588", "the canary's weight stayed 0 %")
        totals = re.search(r"traffic: \d+ requests answered.*", summary).group(0)
        self.assertNotIn("recs-v5", totals, "no user request answered by recs-v5")
        self.assertIn("ROLLED_BACK (divergence, in shadow", out)

        # Nothing left: the process is gone, its ports refuse, its data dir is removed.
        for port in (inference.group(1), control.group(1)):
            self.assertFalse(listening(int(port)), f"port {port} still listening")
        self.assertFalse(os.path.exists(data_dir.group(1)), data_dir.group(1))

    def test_missing_models_are_named(self):
        empty = tempfile.mkdtemp(prefix="mlcanary-demo-test-")
        self.addCleanup(shutil.rmtree, empty, True)
        shutil.copy(os.path.join(MODELS, "recs-v1.json"), empty)
        proc = subprocess.run([BIN, "demo", "--models", empty], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(proc.returncode, 1)
        err = proc.stderr.decode()
        self.assertIn("recs-v4.json", err)
        self.assertIn("recs-v5.ubj", err)
        self.assertIn("recs-v2.ubj", err)
        self.assertNotIn("recs-v1.json", err.split("missing")[1].split(";")[0])
        self.assertEqual(proc.stdout, b"", "refused before anything starts")


if __name__ == "__main__":
    unittest.main()
