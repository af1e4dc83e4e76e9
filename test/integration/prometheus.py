"""A real Prometheus server for the integration tests and benchmarks: Debian's `prometheus`
binary (MLCANARY_PROMETHEUS_BIN overrides it) in a temporary directory, on a free port,
scraping the given `host:port` targets' /metrics as job `mlcanary`, with a bearer token
when `serve` asks for one (the same shape as
src/prometheus/testing/prometheus_server.h, for the C++ tests)."""
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

from harness import free_port


class Prometheus:
    """The URL is known at construction (for the replicas' config); start() gets the
    targets (the replicas' control ports)."""

    def __init__(self, scrape_interval="1s", token=None):
        self.binary = os.environ.get("MLCANARY_PROMETHEUS_BIN") or "/usr/bin/prometheus"
        self.dir = tempfile.mkdtemp(prefix="mlcanary-prom-")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.scrape_interval = scrape_interval
        self.token = token  # sent as "Authorization: Bearer" on every scrape
        self.proc = None

    def start(self, targets, timeout=20):
        with open(os.path.join(self.dir, "prometheus.yml"), "w") as f:
            f.write(f"""global:
  scrape_interval: {self.scrape_interval}
  scrape_timeout: {self.scrape_interval}
  evaluation_interval: 1s
scrape_configs:
  - job_name: mlcanary
{f"    authorization: {{credentials: '{self.token}'}}" if self.token else ""}
    static_configs:
      - targets: [{", ".join(repr(t) for t in targets)}]
""")
        if not os.path.exists(self.binary):
            raise RuntimeError(f"{self.binary} is missing: scripts/install-deps installs "
                               "Debian's prometheus")
        self.log = open(os.path.join(self.dir, "prometheus.log"), "ab")
        self.proc = subprocess.Popen(
            [self.binary, f"--config.file={self.dir}/prometheus.yml",
             f"--storage.tsdb.path={self.dir}/data",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("prometheus did not get ready: " + self.logs())

    def query(self, promql):
        """The instant query's result list (data.result)."""
        q = urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(f"{self.url}/api/v1/query?{q}", timeout=5) as r:
            return json.loads(r.read())["data"]["result"]

    def up_targets(self):
        return sum(1 for s in self.query("up == 1"))

    def logs(self):
        try:
            with open(os.path.join(self.dir, "prometheus.log"), "rb") as f:
                return f.read().decode(errors="replace")[-3000:]
        except OSError:
            return ""

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()
        shutil.rmtree(self.dir, True)
