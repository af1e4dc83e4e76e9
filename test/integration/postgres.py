"""A real PostgreSQL server for the integration tests: `initdb` and `pg_ctl` from Debian's
postgresql package into a temporary directory, on a free port, with a password-protected
superuser. PostgreSQL refuses to run as root: as root, its programs run as the `postgres`
user (runuser), which owns the directory."""
import glob
import os
import pwd
import shutil
import subprocess
import tempfile

from harness import free_port

PASSWORD = "pg-secret-7d1e"


def _bindir():
    if os.environ.get("MLCANARY_PG_BINDIR"):
        return os.environ["MLCANARY_PG_BINDIR"]
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    return found[-1] if found else ""


class Postgres:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="mlcanary-pg-")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)

    def _run(self, program, *args):
        cmd = [os.path.join(_bindir(), program), *args]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120)

    def url(self, password=PASSWORD, database="postgres"):
        return f"postgresql://mlcanary:{password}@127.0.0.1:{self.port}/{database}"

    def start(self):
        pwfile = os.path.join(self.dir, "pw")
        with open(pwfile, "w") as f:
            f.write(PASSWORD)
        if self.as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        self._run("initdb", "-D", self.data, "-U", "mlcanary", "--pwfile", pwfile,
                  "--auth=scram-sha-256", "-E", "UTF8", "--no-sync")
        return self.start_again()

    def start_again(self):
        """pg_ctl start on the cluster made by start() (after stop()), on the same port."""
        self._run("pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "log"), "-w",
                  "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off",
                  "start")
        return self

    def stop(self):
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def cleanup(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, True)
