"""Who is measured: the C++ drivers (annals, raw RocksDB, SQLite) and Emmett
on a throwaway PostgreSQL 15 cluster, each measurement in its own process
whose peak RSS the kernel reports."""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

from .common import PEERS, ROOT, is_baseline, kind, log


def find_binary(build_dir, name):
    for dirpath, _, files in os.walk(os.path.join(build_dir, "bench")):
        if name in files:
            p = os.path.join(dirpath, name)
            if os.access(p, os.X_OK):
                return p
    return None


def run_measured(cmd, timeout, env=None):
    """Runs cmd; returns (json dict from its last stdout line, child's peak
    RSS in MiB from wait4). Raises RuntimeError with stderr on failure."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            start_new_session=True)
    deadline = time.monotonic() + timeout
    out_chunks, err_chunks = [], []

    def pump(stream, sink):
        for chunk in iter(lambda: stream.read(65536), b""):
            sink.append(chunk)

    threads = [threading.Thread(target=pump, args=(proc.stdout, out_chunks)),
               threading.Thread(target=pump, args=(proc.stderr, err_chunks))]
    for t in threads:
        t.start()
    while True:
        pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
        if pid != 0:
            break
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pid, status, rusage = os.wait4(proc.pid, 0)
            for t in threads:
                t.join()
            raise RuntimeError(f"timed out after {timeout}s: {' '.join(cmd)}")
        time.sleep(0.02)
    proc.returncode = os.waitstatus_to_exitcode(status)
    for t in threads:
        t.join()
    out = b"".join(out_chunks).decode(errors="replace")
    err = b"".join(err_chunks).decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"exit {proc.returncode}: {' '.join(cmd)}\n{err.strip()[-2000:]}")
    lines = [l for l in out.splitlines() if l.strip().startswith("{")]
    if not lines:
        raise RuntimeError(f"no JSON line from: {' '.join(cmd)}\n{err.strip()[-2000:]}")
    return json.loads(lines[-1]), rusage.ru_maxrss / 1024.0


def flags_to_args(flags):
    args = []
    for k, v in flags.items():
        args += [f"--{k}", str(v)]
    return args


class CppSystem:
    """annals, rocksdb, sqlite: one process of the C++ driver per measurement,
    each store in a fresh directory under the scratch dir. A baseline
    ("annals@<label>") is the driver of another build run as annals."""

    def __init__(self, name, build_dir, scratch, count_syncs=False):
        self.name = name
        self.build_dir = build_dir
        self.scratch = scratch
        # Whether `perf stat` can count syscalls here (perf_can_count_syncs()).
        self.count_syncs = count_syncs
        self.counter = 0

    def available(self):
        if find_binary(self.build_dir, "annals_bench_driver") is None:
            return f"annals_bench_driver not found under {self.build_dir}/bench; build it first"
        return None

    def new_store(self, label):
        self.counter += 1
        d = os.path.join(self.scratch, f"{self.name}-{label}-{self.counter}")
        os.makedirs(d)
        return d

    def drop_store(self, d):
        shutil.rmtree(d, ignore_errors=True)

    def run(self, workload, store, flags, timeout):
        binary = find_binary(self.build_dir, workload.get("binary", "annals_bench_driver"))
        if binary is None:
            raise RuntimeError(f"{workload.get('binary')} not built under {self.build_dir}")
        cmd = [binary, "--system", kind(self.name), "--dir", store] + flags_to_args(flags)
        if not (self.count_syncs and str(flags.get("durable", "0")) == "1"):
            return run_measured(cmd, timeout)
        # Count the process's fsync/fdatasync calls: events per sync shows how
        # well a group commit batches, independently of the disk's latency.
        stat = os.path.join(self.scratch, "perf-stat.txt")
        result, rss = run_measured(["perf", "stat", "-x,", "-o", stat, "-e",
                                    "syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync",
                                    "--"] + cmd, timeout)
        syncs = 0
        with open(stat) as f:
            for line in f:
                parts = line.split(",")
                if len(parts) > 2 and parts[2].startswith("syscalls:") and parts[0].isdigit():
                    syncs += int(parts[0])
        result["syncs"] = syncs
        return result, rss

    def stop(self):
        pass


class PostgresSystem:
    """Emmett on a throwaway PostgreSQL 15 cluster: initdb in a temp dir,
    started on 127.0.0.1 at a free port, one database per store, stopped and
    deleted at the end. PostgreSQL refuses to run as root, so as root the
    server runs as the `postgres` user (runuser)."""

    name = "postgres"

    def __init__(self, scratch, install):
        self.scratch = scratch
        self.install = install
        self.pg_bin = None
        self.dir = None
        self.port = None
        self.as_user = []
        self.counter = 0
        self.started = False

    def _find_pg_bin(self):
        for d in ["/usr/lib/postgresql/15/bin"]:
            if os.path.exists(os.path.join(d, "initdb")):
                return d
        pg_config = shutil.which("pg_config")
        if pg_config:
            d = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout.strip()
            if os.path.exists(os.path.join(d, "initdb")):
                return d
        return None

    def available(self):
        if self.install:
            if self._find_pg_bin() is None or not shutil.which("node") or not shutil.which("npm"):
                log("postgres: installing Debian packages (scripts/install-deps.sh, "
                    "ANNALS_BENCH_PEERS=1)")
                r = subprocess.run(["bash", os.path.join(ROOT, "scripts", "install-deps.sh")],
                                   env=dict(os.environ, ANNALS_BENCH_PEERS="1"))
                if r.returncode != 0:
                    return "scripts/install-deps.sh failed (need root/sudo and apt access)"
        self.pg_bin = self._find_pg_bin()
        if self.pg_bin is None:
            return "PostgreSQL 15 binaries (initdb) not found; run ANNALS_BENCH_PEERS=1 scripts/install-deps.sh"
        if not shutil.which("node"):
            return "node not found; run ANNALS_BENCH_PEERS=1 scripts/install-deps.sh"
        if not os.path.isdir(os.path.join(PEERS, "node_modules", "@event-driven-io",
                                          "emmett-postgresql")):
            if not self.install:
                return "bench/peers/node_modules missing (run: cd bench/peers && npm ci)"
            log("postgres: installing Emmett into bench/peers/node_modules (npm ci)")
            r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PEERS)
            if r.returncode != 0:
                return "npm ci in bench/peers failed (is the npm registry reachable?)"
        if os.geteuid() == 0:
            try:
                import pwd
                pwd.getpwnam("postgres")
            except KeyError:
                return "running as root and there is no `postgres` user to run the server as"
            self.as_user = ["runuser", "-u", "postgres", "--"]
        try:
            self._start()
        except Exception as e:  # noqa: BLE001 - reported as a skip reason
            return f"could not start PostgreSQL: {e}"
        return None

    def _pg(self, tool, *args, check=True):
        cmd = self.as_user + [os.path.join(self.pg_bin, tool)] + list(args)
        r = subprocess.run(cmd, capture_output=True, text=True)
        if check and r.returncode != 0:
            raise RuntimeError(f"{tool} failed: {r.stderr.strip()[-1500:]}")
        return r

    def _start(self):
        self.dir = tempfile.mkdtemp(prefix="annals-pg-")
        if self.as_user:
            shutil.chown(self.dir, "postgres", "postgres")
        os.chmod(self.dir, 0o700)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        data = os.path.join(self.dir, "data")
        self._pg("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                 "--no-instructions")
        opts = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} "
                "-c synchronous_commit=on -c fsync=on -c max_connections=100")
        self._pg("pg_ctl", "-D", data, "-l", os.path.join(self.dir, "server.log"), "-w",
                 "-o", opts, "start")
        self.started = True
        log(f"postgres: PostgreSQL 15 started on 127.0.0.1:{self.port} (data in {data}, "
            f"synchronous_commit=on)")

    def stop(self):
        if self.started:
            self._pg("pg_ctl", "-D", os.path.join(self.dir, "data"), "-m", "fast", "-w", "stop",
                     check=False)
            self.started = False
            log("postgres: stopped")
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def new_store(self, label):
        self.counter += 1
        db = f"bench_{label.replace('-', '_')}_{self.counter}"
        self._pg("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", db)
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}"

    def drop_store(self, url):
        db = url.rsplit("/", 1)[1]
        self._pg("dropdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", db,
                 check=False)

    def run(self, workload, store, flags, timeout):
        script = os.path.join(PEERS, workload.get("node_script", "emmett_driver.mjs"))
        cmd = ["node", script, "--dir", store] + \
            flags_to_args(flags)
        return run_measured(cmd, timeout)


def perf_can_count_syncs():
    if not shutil.which("perf"):
        return False
    r = subprocess.run(["perf", "stat", "-x,", "-e", "syscalls:sys_enter_fdatasync", "--",
                        "true"], capture_output=True, text=True)
    return r.returncode == 0 and "not supported" not in r.stderr and "<not" not in r.stderr


def make_system(name, build_dir, scratch, install, count_syncs, baseline_build_dir=None):
    """The system called `name` (one of common.SYSTEMS, or a baseline
    "annals@<label>" whose driver is in `baseline_build_dir`)."""
    if name == "postgres":
        return PostgresSystem(scratch, install)
    if is_baseline(name):
        return CppSystem(name, baseline_build_dir, scratch, count_syncs)
    return CppSystem(name, build_dir, scratch, count_syncs)
