"""Helpers for end-to-end tests: start `mlcanary serve` on free ports with a temp
config, talk to its APIs with the standard library, drive steady inference traffic."""
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse

BIN = os.environ.get("MLCANARY_BIN", "build/apps/mlcanary/mlcanary")
SRC = os.path.abspath(os.environ.get("MLCANARY_SOURCE_DIR",
                                     os.path.join(os.path.dirname(__file__), "..", "..")))
MODELS = os.path.join(SRC, "examples", "models")
ADMIN = "admin-token-for-tests"
READER = "reader-token-for-tests"


_handed_out = set()
_handed_out_lock = threading.Lock()


def free_port():
    """A port free now and not handed out before in this process: the kernel
    may give a port it just gave (and that was closed again) a second time, and
    two servers of one test would then get the same port."""
    with _handed_out_lock:
        for _ in range(1000):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            if port not in _handed_out:
                _handed_out.add(port)
                return port
    raise RuntimeError("no free port left that this test run has not handed out")


class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    def json(self):
        return json.loads(self.body)


def request(port, method, path, body=None, token=None, headers=None, timeout=30):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Bearer " + token
    data = None
    if body is not None:
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        h.setdefault("Content-Type", "application/json")
    try:
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        return Reply(r.status, r.getheaders(), r.read())
    finally:
        conn.close()


class Server:
    """One `mlcanary serve` process with its own temp dir, config and SQLite file."""

    # Ready when each of these answers 200: (port attribute, path).
    READY_PROBES = (("inference_port", "/ping"), ("control_port", "/healthz"))

    def __init__(self, endpoints_yaml, interval="500ms", extra_yaml="", workdir=None,
                 store=None, lease=None):
        self.dir = workdir or tempfile.mkdtemp(prefix="mlcanary-it-")
        store = store or f"sqlite:{self.dir}/mlcanary.db"
        self.inference_port = free_port()
        self.control_port = free_port()
        self.config = os.path.join(self.dir, "serve.yaml")
        with open(self.config, "w") as f:
            f.write(f"""listen:
  inference: 127.0.0.1:{self.inference_port}
  control: 127.0.0.1:{self.control_port}
store: {store}
controller:
  interval: {interval}
{f"  lease: {lease}" if lease else ""}
{extra_yaml}
endpoints:
{endpoints_yaml}
""")
        self.proc = None
        self.log_path = os.path.join(self.dir, "serve.log")

    def start(self, wait=True, nofile=None):
        """nofile: the soft and hard limit on open files of the server (as prlimit --nofile)."""
        env = dict(os.environ, MLCANARY_API_TOKEN=ADMIN, MLCANARY_READ_TOKEN=READER)
        if getattr(self, "log", None):
            self.log.close()  # started again (after kill9 or stop)
        self.log = open(self.log_path, "ab")
        limit = None
        if nofile is not None:
            import resource
            limit = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        self.proc = subprocess.Popen([BIN, "serve", "--config", self.config], env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     preexec_fn=limit)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited with {self.proc.returncode}: {self.logs()}")
            try:
                if all(request(getattr(self, port), "GET", path, timeout=2).status == 200
                       for port, path in self.READY_PROBES):
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("serve did not become ready: " + self.logs())

    def logs(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-4000:]
        except OSError:
            return ""

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()

    def thread_stacks(self):
        """Every thread's stack of the running server (gdb, when it is installed and may
        attach), for a failure message: what a request that went unanswered waits on."""
        if not self.proc or self.proc.poll() is not None:
            return "(not running)"
        try:
            out = subprocess.run(["gdb", "-p", str(self.proc.pid), "-batch", "-nx",
                                  "-ex", "thread apply all bt 30"],
                                 capture_output=True, text=True, timeout=60)
            return out.stdout[-30000:] + out.stderr[-2000:]
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"(no stacks: {e})"

    # Control API
    def api(self, method, path, body=None, token=ADMIN):
        try:
            return request(self.control_port, method, path, body=body, token=token)
        except socket.timeout as e:
            # A control request that goes unanswered is a defect: say where it waits.
            raise AssertionError(
                f"{method} {path} on the control port {self.control_port} went unanswered: "
                f"{e}\n--- the server's threads ---\n{self.thread_stacks()}\n"
                f"--- its log ---\n{self.logs()}") from e

    def deploy(self, body):
        return self.api("POST", "/v1/deployments", body)

    def deployment(self, dep_id):
        r = self.api("GET", f"/v1/deployments/{dep_id}")
        assert r.status == 200, (r.status, r.body)
        return r.json()

    def events(self, dep_id):
        r = self.api("GET", f"/v1/deployments/{dep_id}/events")
        assert r.status == 200, (r.status, r.body)
        doc = r.json()
        return doc["events"] if isinstance(doc, dict) else doc

    def wait_state(self, dep_id, states, timeout=90):
        deadline = time.time() + timeout
        d = None
        while time.time() < deadline:
            d = self.deployment(dep_id)
            if d["state"] in states:
                return d
            time.sleep(0.2)
        raise AssertionError(f"deployment {dep_id} still {d and d['state']} after {timeout}s; "
                             f"events: {json.dumps(self.events(dep_id))[-3000:]}")

    def wait_for(self, what, predicate, timeout=20):
        """predicate()'s first truthy value within timeout seconds; fails naming what with the log."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; log: {self.logs()}")

    def endpoint(self, name):
        r = self.api("GET", f"/v1/endpoints/{name}")
        assert r.status == 200, (r.status, r.body)
        return r.json()


class Traffic:
    """Steady inference traffic from a few threads; counts answers per variant."""

    def __init__(self, port, endpoint="recs", features=8, threads=4, users=2000):
        self.port, self.endpoint, self.features = port, endpoint, features
        self.threads, self.users = threads, users
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.by_variant = {}  # variant -> {status: count}
        self.transport_errors = 0
        self.workers = []

    def _run(self, seed):
        rng = random.Random(seed)
        conn = None
        while not self.stop_flag.is_set():
            user = f"u{rng.randrange(self.users)}"
            body = json.dumps({"user_id": user,
                               "features": [rng.random() for _ in range(self.features)]})
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                conn.request("POST", f"/v1/endpoints/{self.endpoint}/invocations", body=body,
                             headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                variant = r.getheader("X-Mlcanary-Variant") or "?"
                with self.lock:
                    counts = self.by_variant.setdefault(variant, {})
                    counts[r.status] = counts.get(r.status, 0) + 1
            except (OSError, http.client.HTTPException):
                with self.lock:
                    self.transport_errors += 1
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.05)

    def start(self):
        for i in range(self.threads):
            t = threading.Thread(target=self._run, args=(i,), daemon=True)
            t.start()
            self.workers.append(t)
        return self

    def stop(self):
        self.stop_flag.set()
        for t in self.workers:
            t.join(timeout=15)

    def snapshot(self):
        with self.lock:
            return {v: dict(c) for v, c in self.by_variant.items()}
