#!/usr/bin/env python3
"""wal-archive benchmark: ours against the peers, side by side in one run, on one local
signature-checking S3 server. Called by bench/run (which installs the tools and builds ours).

Results are data, never pass/fail: every figure is written to bench/results/ as JSON, a
markdown table and a plot (bench/lib/report.py).
"""
import argparse
import atexit
import datetime
import hashlib
import json
import os
import platform
import re
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pitr_profile  # noqa: E402

BENCH_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_DIR = os.path.dirname(BENCH_DIR)
PG_BIN = "/usr/lib/postgresql/15/bin"
SERVER_NAME = "bench"  # barman-cloud server name and pgBackRest stanza prefix
NETNS = f"walbench{os.getpid()}"
VETH_HOST, VETH_NS = f"wbh{os.getpid() % 100000}", f"wbn{os.getpid() % 100000}"
VETH_HOST_ADDR, VETH_NS_ADDR = "169.254.77.1", "169.254.77.2"


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Process bookkeeping: everything started here is stopped at exit, whatever happens.

class Cleanup:
    def __init__(self):
        self.actions = []

    def add(self, action):
        self.actions.append(action)
        return action

    def run(self):
        while self.actions:
            action = self.actions.pop()
            try:
                action()
            except Exception as error:  # noqa: BLE001 — cleanup must go on
                log(f"cleanup: {error}")


CLEANUP = Cleanup()
atexit.register(CLEANUP.run)


def _exit_on_signal(signum, _frame):
    log(f"signal {signum}: stopping")
    sys.exit(128 + signum)


signal.signal(signal.SIGTERM, _exit_on_signal)
signal.signal(signal.SIGINT, _exit_on_signal)
signal.signal(signal.SIGHUP, _exit_on_signal)


def stop_process(process, grace=5.0):
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(grace)


def start_background(argv, env=None, name=""):
    """Starts argv in its own process group, registered for cleanup; stdout is a pipe."""
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True, text=True)
    CLEANUP.add(lambda: stop_process(process))
    log(f"started {name or argv[0]} (pid {process.pid})")
    return process


def read_line(process, timeout):
    """First stdout line of a background process, within timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.2)
        if ready:
            line = process.stdout.readline()
            if line:
                return line.strip()
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}: {process.stderr.read()[-2000:]}")
    raise RuntimeError(f"{process.args[0]} printed nothing within {timeout} s")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(argv, check=True, env=None, timeout=600, **kwargs):
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))[:300]} exited {result.returncode}: "
                           f"{(result.stderr or result.stdout)[-1500:]}")
    return result


def as_postgres(argv):
    return ["runuser", "-u", "postgres", "--"] + argv


# ---------------------------------------------------------------------------------------------
# Measuring one command: wall time from here; CPU (user+sys) from the kernel's rusage of the
# waited-for process tree (microsecond resolution); peak RSS from /usr/bin/time -f %M, since
# a child forked straight from this Python would inherit Python's resident-set high-water mark.

class Sample:
    def __init__(self, wall, user, system, max_rss_kib, status, stderr):
        self.wall, self.user, self.system = wall, user, system
        self.max_rss_kib, self.status, self.stderr = max_rss_kib, status, stderr

    @property
    def cpu(self):
        return self.user + self.system


def measure(argv, env, timeout=300, cwd=None, user=None):
    stderr_file = tempfile.TemporaryFile()
    rss_file = tempfile.NamedTemporaryFile(prefix="wal-bench-rss.", delete=False)
    rss_file.close()
    if user:
        os.chmod(rss_file.name, 0o666)  # /usr/bin/time runs as `user` and writes it
    start = time.perf_counter()
    process = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", rss_file.name] + list(argv), env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr_file,
                               start_new_session=True, cwd=cwd, user=user, group=user,
                               extra_groups=[] if user else None)
    deadline = start + timeout
    try:
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.0005)
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)
        raise
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr_file.seek(0)
    stderr = stderr_file.read().decode(errors="replace").strip()
    with open(rss_file.name) as rss:
        lines = [line.strip() for line in rss if line.strip()]
    os.unlink(rss_file.name)
    max_rss = int(lines[-1]) if lines and lines[-1].isdigit() else 0
    return Sample(wall, usage.ru_utime, usage.ru_stime, max_rss, process.returncode, stderr)


def median(values):
    return statistics.median(values) if values else None


# ---------------------------------------------------------------------------------------------
# The S3 server (scripts/local-s3-server), and the added network delay in front of it.

class S3Server:
    def __init__(self, info, process):
        def pick(*names):
            for name in names:
                if info.get(name):
                    return str(info[name])
            raise RuntimeError(f"local-s3-server printed no {names[0]}: keys {sorted(info)}")
        self.process = process
        self.endpoint = pick("endpoint", "endpoint_url", "url").rstrip("/")
        self.region = pick("region", "aws_region")
        self.access_key = pick("access_key_id", "accessKeyId", "access_key", "aws_access_key_id")
        self.secret_key = pick("secret_access_key", "secretAccessKey", "secret_key", "secret", "aws_secret_access_key")
        buckets = info.get("buckets") or [pick("bucket")]
        self.bucket = buckets[0]
        match = re.match(r"https?://([^:/]+):(\d+)", self.endpoint)
        if not match:
            raise RuntimeError(f"unexpected endpoint {self.endpoint}")
        self.host, self.port = match.group(1), int(match.group(2))


def start_s3_server(netns=None, kind="moto"):
    """`kind`: moto (scripts/local-s3-server, the default) or rgw (scripts/rgw-server: Ceph's
    RADOS Gateway, a server that is not Python)."""
    script = os.path.join(REPO_DIR, "scripts", "rgw-server" if kind == "rgw" else "local-s3-server")
    if not os.access(script, os.X_OK):
        raise RuntimeError(f"{script} is missing: the benchmark uses the project's local S3 server")
    # Connections stay open between requests, as S3 and RGW keep them (moto's server alone
    # would close each one after its response, making every request of every tool pay a new
    # connection).
    argv = [script] + ([] if kind == "rgw" else ["--keep-alive"]) + ["wal-bench"]
    if netns:
        argv = ["ip", "netns", "exec", netns] + argv
    process = start_background(argv, name="scripts/local-s3-server")
    line = read_line(process, 120)
    while not line.startswith("{"):
        line = read_line(process, 60)
    return S3Server(json.loads(line), process)


class Network:
    """How clients reach the S3 server: directly, through netem in a namespace, or through the
    userspace delay relay when the kernel has no netem."""

    def __init__(self):
        self.mode, self.note = "none", ""
        self.netns_ready = False

    def try_netem(self):
        """Builds the namespace and veth pair and checks that netem can be attached."""
        if shutil.which("ip") is None or shutil.which("tc") is None:
            self.note = "ip/tc not installed"
            return False
        if run(["ip", "netns", "add", NETNS], check=False).returncode != 0:
            self.note = "ip netns add failed (no CAP_SYS_ADMIN?)"
            return False
        CLEANUP.add(lambda: run(["ip", "netns", "del", NETNS], check=False))
        steps = [
            ["ip", "link", "add", VETH_HOST, "type", "veth", "peer", "name", VETH_NS],
            ["ip", "link", "set", VETH_NS, "netns", NETNS],
            ["ip", "addr", "add", f"{VETH_HOST_ADDR}/30", "dev", VETH_HOST],
            ["ip", "link", "set", VETH_HOST, "up"],
            ["ip", "netns", "exec", NETNS, "ip", "addr", "add", f"{VETH_NS_ADDR}/30", "dev", VETH_NS],
            ["ip", "netns", "exec", NETNS, "ip", "link", "set", VETH_NS, "up"],
            ["ip", "netns", "exec", NETNS, "ip", "link", "set", "lo", "up"],
        ]
        for step in steps:
            result = run(step, check=False)
            if result.returncode != 0:
                self.note = f"{' '.join(step[:4])}: {result.stderr.strip()}"
                return False
        CLEANUP.add(lambda: run(["ip", "link", "del", VETH_HOST], check=False))
        if shutil.which("modprobe"):
            run(["modprobe", "sch_netem"], check=False)
        probe = run(["tc", "qdisc", "add", "dev", VETH_HOST, "root", "netem", "delay", "1ms"], check=False)
        if probe.returncode != 0:
            kernel = platform.release()
            self.note = (f"tc netem unavailable on kernel {kernel} ({probe.stderr.strip()}; "
                         "CONFIG_NET_SCH_NETEM not set, no loadable modules)")
            return False
        run(["tc", "qdisc", "del", "dev", VETH_HOST, "root"], check=False)
        self.netns_ready = True
        return True

    def set_netem(self, rtt_ms, mbit=0):
        for device, prefix in ((VETH_HOST, []), (VETH_NS, ["ip", "netns", "exec", NETNS])):
            run(prefix + ["tc", "qdisc", "del", "dev", device, "root"], check=False)
            if rtt_ms > 0 or mbit:
                rate = ["rate", f"{mbit:g}mbit"] if mbit else []
                run(prefix + ["tc", "qdisc", "add", "dev", device, "root", "netem", "delay", f"{rtt_ms / 2}ms"] + rate)


def start_delay_relay(target_host, target_port, rtt_ms, mbit=0):
    relay = start_background([sys.executable, os.path.join(BENCH_DIR, "lib", "delay_relay.py"), "0",
                              target_host, str(target_port), str(rtt_ms), str(mbit)],
                             name=f"delay relay {rtt_ms:g} ms {mbit:g} Mbit/s")
    line = read_line(relay, 30)
    return int(line.split()[1])


def start_netns_forwarder(server):
    """Inside the namespace: veth address -> the server's loopback port (the server script binds 127.0.0.1)."""
    port = free_port()
    forwarder = start_background(["ip", "netns", "exec", NETNS, "socat",
                                  f"TCP-LISTEN:{port},bind={VETH_NS_ADDR},fork,reuseaddr",
                                  f"TCP:{server.host}:{server.port}"], name="netns forwarder")
    for _ in range(100):
        try:
            socket.create_connection((VETH_NS_ADDR, port), 0.2).close()
            return port
        except OSError:
            if forwarder.poll() is not None:
                raise RuntimeError("socat forwarder in the namespace exited")
            time.sleep(0.05)
    raise RuntimeError("socat forwarder in the namespace did not listen")


def start_tls_terminator(workdir, target_host, target_port):
    """pgBackRest speaks only HTTPS to S3: a socat TLS front (self-signed, verify-tls=n)."""
    cert = os.path.join(workdir, "tls.pem")
    if not os.path.exists(cert):
        key = os.path.join(workdir, "tls.key")
        crt = os.path.join(workdir, "tls.crt")
        run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
             "-days", "2", "-subj", "/CN=127.0.0.1"])
        with open(cert, "w") as pem:
            pem.write(open(crt).read() + open(key).read())
    port = free_port()
    process = start_background(["socat", f"OPENSSL-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr,cert={cert},verify=0",
                                f"TCP:{target_host}:{target_port}"], name="TLS front for pgBackRest")
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return port
        except OSError:
            if process.poll() is not None:
                raise RuntimeError("socat TLS front exited")
            time.sleep(0.05)
    raise RuntimeError("socat TLS front did not listen")


# ---------------------------------------------------------------------------------------------
# PostgreSQL clusters, run as user postgres in the work directory.

class Cluster:
    def __init__(self, workdir, name, segsize_mb=16, settings=None):
        self.workdir, self.name = workdir, name
        self.datadir = os.path.join(workdir, "pg", name)
        self.socketdir = os.path.join(workdir, "sock")
        self.logfile = os.path.join(workdir, "pg", f"{name}.log")
        self.port = free_port()
        self.segsize_mb = segsize_mb
        self.settings = settings or {}
        self.running = False

    def init(self):
        os.makedirs(self.socketdir, exist_ok=True)
        shutil.chown(self.socketdir, "postgres", "postgres")
        run(as_postgres([f"{PG_BIN}/initdb", "-D", self.datadir, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                         "--no-instructions", f"--wal-segsize={self.segsize_mb}"]), timeout=120)
        self.configure(self.base_settings())

    def base_settings(self):
        settings = {
            "port": str(self.port), "listen_addresses": "''", "unix_socket_directories": f"'{self.socketdir}'",
            "shared_buffers": "'256MB'", "max_wal_size": "'4GB'", "min_wal_size": "'64MB'",
            "synchronous_commit": "off", "checkpoint_timeout": "'15min'", "fsync": "on",
            "logging_collector": "off", "log_min_messages": "warning",
        }
        settings.update(self.settings)
        return settings

    def configure(self, settings):
        with open(os.path.join(self.datadir, "postgresql.auto.conf"), "a") as conf:
            for key, value in settings.items():
                conf.write(f"{key} = {value}\n")

    def start(self, wait=True):
        argv = [f"{PG_BIN}/pg_ctl", "-D", self.datadir, "-l", self.logfile, "start"]
        argv += ["-w", "-t", "120"] if wait else ["-W"]
        result = run(as_postgres(argv), timeout=180, check=False)
        if result.returncode != 0:
            tail = open(self.logfile).read()[-1500:] if os.path.exists(self.logfile) else ""
            raise RuntimeError(f"pg_ctl start of {self.name} failed: {result.stdout.strip()} {tail}")
        self.running = True
        CLEANUP.add(self.stop)

    def stop(self, mode="fast"):
        if self.running:
            run(as_postgres([f"{PG_BIN}/pg_ctl", "-D", self.datadir, "-m", mode, "-w", "-t", "120", "stop"]),
                check=False, timeout=180)
            self.running = False

    def psql(self, sql, timeout=600):
        result = run(as_postgres([f"{PG_BIN}/psql", "-h", self.socketdir, "-p", str(self.port), "-U", "postgres",
                                  "-d", "postgres", "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql]), timeout=timeout)
        return result.stdout.strip()

    def pgbench(self, args, timeout=900):
        return run(as_postgres([f"{PG_BIN}/pgbench", "-h", self.socketdir, "-p", str(self.port), "-U", "postgres"]
                               + args + ["postgres"]), timeout=timeout)

    def segments_per_log(self):
        return 0x100000000 // (self.segsize_mb * 1024 * 1024)

    def segment_number(self, walfile):
        return int(walfile[8:16], 16) * self.segments_per_log() + int(walfile[16:24], 16)

    def current_walfile(self):
        return self.psql("SELECT pg_walfile_name(pg_current_wal_lsn())")


def make_workdir():
    workdir = tempfile.mkdtemp(prefix="wal-bench.", dir="/tmp")
    os.chmod(workdir, 0o755)
    os.makedirs(os.path.join(workdir, "pg"))
    shutil.chown(os.path.join(workdir, "pg"), "postgres", "postgres")
    return workdir


def postgres_dir(path):
    os.makedirs(path, exist_ok=True)
    shutil.chown(path, "postgres", "postgres")
    return path


# ---------------------------------------------------------------------------------------------
# Network shapes: how far the S3 server is from the clients.

class Shape:
    """`RTT[@MBIT]`: added round trip in ms, and optionally the bandwidth of the link in Mbit/s."""

    def __init__(self, spec):
        rtt, _, mbit = spec.partition("@")
        self.rtt_ms = float(rtt or 0)
        self.mbit = float(mbit or 0)
        self.spec = spec
        if not self.rtt_ms and not self.mbit:
            self.name = "loopback"
        else:
            self.name = f"rtt{self.rtt_ms:g}ms" + (f"-{self.mbit:g}mbit" if self.mbit else "")

    @property
    def label(self):
        if self.name == "loopback":
            return "loopback"
        text = f"+{self.rtt_ms:g} ms RTT"
        return text + (f", {self.mbit:g} Mbit/s" if self.mbit else ", unlimited bandwidth")

    def describe(self):
        return {"name": self.name, "rtt_ms": self.rtt_ms, "mbit": self.mbit, "label": self.label}


def parse_shapes(text):
    return [Shape(spec.strip()) for spec in text.split(",") if spec.strip()]


class Endpoints:
    """One endpoint per shape: direct, through netem (one shape at a time), or through its own
    userspace delay relay (started once, kept for the run); a TLS front for pgBackRest each."""

    def __init__(self, workdir, server, network, use_netem, direct_endpoint):
        self.workdir, self.server, self.network = workdir, server, network
        self.use_netem, self.direct = use_netem, direct_endpoint
        self.cache = {}
        self.notes = {}

    def activate(self, shape):
        """(http endpoint, TLS port) for `shape`; with netem, applies the shape's qdisc."""
        if self.use_netem:
            self.network.set_netem(shape.rtt_ms, shape.mbit)
            if shape.name not in self.cache:
                host, port = re.match(r"https?://([^:/]+):(\d+)", self.direct).groups()
                self.cache[shape.name] = (self.direct, start_tls_terminator(self.workdir, host, port))
                self.notes[shape.name] = ("none (loopback)" if shape.name == "loopback" else
                                          f"netem: tc netem delay {shape.rtt_ms / 2:g} ms"
                                          + (f" rate {shape.mbit:g}mbit" if shape.mbit else "")
                                          + f" on each end of a veth pair ({VETH_HOST_ADDR} <-> {VETH_NS_ADDR})")
            return self.cache[shape.name]
        if shape.name not in self.cache:
            if shape.name == "loopback":
                endpoint = self.direct
                self.notes[shape.name] = "none (loopback)"
            else:
                port = start_delay_relay(self.server.host, self.server.port, shape.rtt_ms, shape.mbit)
                endpoint = f"http://127.0.0.1:{port}"
                self.notes[shape.name] = (f"userspace delay relay (bench/lib/delay_relay.py): {shape.rtt_ms:g} ms RTT per "
                                          "chunk plus one RTT for a new connection"
                                          + (f", one shared {shape.mbit:g} Mbit/s link per direction" if shape.mbit else "")
                                          + f"; netem unavailable: {self.network.note}")
            host, port = re.match(r"https?://([^:/]+):(\d+)", endpoint).groups()
            self.cache[shape.name] = (endpoint, start_tls_terminator(self.workdir, host, port))
        return self.cache[shape.name]


# ---------------------------------------------------------------------------------------------
# The tools: how each one pushes and fetches, as a single call and as archive/restore_command.
# A tool id is a tool and its settings; SETTINGS says what each one is, for the result files.

# Our parallelism, which pgBackRest's process-max is set to in its best configuration:
# push-ahead uploads on 4 threads (PushAhead.defaultConcurrency), the prefetch worker
# downloads on 8 connections (PrefetchRun.workerConnections).
OURS_PUSH_PARALLELISM = 4
OURS_FETCH_PARALLELISM = 8

SETTINGS = {
    "ours": "wal-push/wal-fetch, defaults: zstd level 1, push-ahead 4 threads, prefetch 8 segments on 8 connections",
    "ours-nocomp": "wal-push/wal-fetch, WAL_ARCHIVE_COMPRESSION=none (otherwise defaults)",
    "ours-noprefetch": "wal-fetch, WAL_ARCHIVE_PREFETCH=0 (otherwise defaults)",
    "curl-zstd": "curl --aws-sigv4 PUT/GET of the very zstd object wal-push stores for this segment, "
                 "UNSIGNED-PAYLOAD, PUT over HTTP/1.0 so without Expect: 100-continue (the fair floor)",
    "curl-raw": "curl --aws-sigv4 PUT/GET of the raw segment, as above (second reference)",
    "aws": "aws s3 cp, defaults (no compression)",
    "barman": "barman-cloud-wal-archive/-restore, defaults (no compression)",
    "barman-lz4": "barman-cloud-wal-archive --lz4 (its fastest compression)",
    "pgbackrest": "pgBackRest archive-push/-get, defaults: compress-type=gz level 6, synchronous",
    "pgbackrest-zst": "pgBackRest, compress-type=zst compress-level=1, synchronous (a single call gains nothing from async)",
    "pgbackrest-async": f"pgBackRest, compress-type=zst compress-level=1, archive-async=y, process-max "
                        f"{OURS_PUSH_PARALLELISM} for archive-push / {OURS_FETCH_PARALLELISM} for archive-get, "
                        "archive-get-queue-max=256MiB",
    "cp": "restore_command = 'cp <local archive directory>/%f %p': uncompressed, local disk, no network (the physical floor)",
}


def base_tool(tool_id):
    return "curl" if tool_id.startswith("curl") else tool_id.split("-")[0]


def conf_quote(value):
    """A postgresql.conf string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def shell_quote(value):
    return "'" + str(value).replace("'", "'\"'\"'") + "'"


class Tools:
    def __init__(self, args, workdir, server):
        self.args, self.workdir, self.server = args, workdir, server
        self.bin = postgres_dir(os.path.join(workdir, "bin"))
        built = args.ours_bin
        for name in ("wal-push", "wal-fetch", "wal-archive"):
            shutil.copy2(os.path.join(built, name), os.path.join(self.bin, name))
            os.chmod(os.path.join(self.bin, name), 0o755)
        self.aws = args.aws_bin
        self.aws_config = os.path.join(workdir, "aws-config")
        with open(self.aws_config, "w") as conf:
            conf.write("[default]\ns3 =\n    addressing_style = path\n")
        os.chmod(self.aws_config, 0o644)
        self.pgbackrest_dir = postgres_dir(os.path.join(workdir, "pgbackrest"))
        for sub in ("log", "lock", "spool"):
            postgres_dir(os.path.join(self.pgbackrest_dir, sub))
        self.endpoint = server.endpoint
        self.tls_port = None
        self.floor_object = None  # the zstd bytes wal-push stores for the single segment
        self.initialised = set()  # prefixes given our archive identity
        self.profiler = None  # pitr_profile.ReplayProfiler with --pitr-profile

    def set_endpoint(self, endpoint, tls_port):
        self.endpoint, self.tls_port = endpoint, tls_port

    def barman(self, command):
        """barman-cloud from the benchmark's virtualenv (bench/run installs it beside aws)."""
        return os.path.join(os.path.dirname(self.aws), command)

    # Environments --------------------------------------------------------------------------------
    def aws_env(self):
        return {"AWS_ACCESS_KEY_ID": self.server.access_key, "AWS_SECRET_ACCESS_KEY": self.server.secret_key,
                "AWS_DEFAULT_REGION": self.server.region, "AWS_REGION": self.server.region,
                "AWS_CONFIG_FILE": self.aws_config, "AWS_EC2_METADATA_DISABLED": "true"}

    def ours_env(self, tool_id, prefix):
        env = {"WAL_ARCHIVE_URL": f"s3://{self.server.bucket}/{prefix}", "WAL_ARCHIVE_ENDPOINT": self.endpoint,
               "WAL_ARCHIVE_PATH_STYLE": "true", "AWS_ACCESS_KEY_ID": self.server.access_key,
               "AWS_SECRET_ACCESS_KEY": self.server.secret_key, "AWS_REGION": self.server.region,
               "WAL_ARCHIVE_CONFIG": "none"}
        if tool_id == "ours-nocomp":
            env["WAL_ARCHIVE_COMPRESSION"] = "none"
        if tool_id == "ours-noprefetch":
            env["WAL_ARCHIVE_PREFETCH"] = "0"
        for item in self.args.ours_env:
            key, _, value = item.partition("=")
            env[key] = value
        return env

    def init_ours(self, prefix, datadir=None, wal_file=None):
        """Gives `prefix` our archive identity, as an operator does once before archiving
        (wal-push and wal-fetch refuse a location without one): from the data directory or a
        WAL file of the system that archives there, straight at the server, once per prefix.
        Not timed: a one-time set-up step."""
        if prefix in self.initialised:
            return
        source = ["-D", datadir] if datadir else ["--wal-file", wal_file]
        env = dict(self.ours_env("ours", prefix), WAL_ARCHIVE_ENDPOINT=self.server.endpoint)
        run([f"{self.bin}/wal-archive", "init"] + source, env=self.process_env(env))
        self.initialised.add(prefix)

    def warm_identity_copy(self, tool_id, prefix, wal_dir):
        """Leaves the archive identity's local copy in `wal_dir`, as the archiver's previous call
        does in steady archiving (the copy is read from the store once per 5 minutes per pg_wal,
        not per call): an untimed wal-fetch of a name the fresh prefix does not hold, which reads
        the identity, keeps its copy and answers "not found" (exit 1). Without it every timed push
        into its fresh prefix would pay the GET a steady archiver does not."""
        missing = "0000000100000000000000FF"
        argv, env = self.fetch_argv(tool_id, missing, os.path.join(wal_dir, "RECOVERYXLOG"), prefix, {})
        status = run(argv, env=self.process_env(env), check=False).returncode
        if status != 1:
            raise RuntimeError(f"warming the identity copy: wal-fetch of a missing segment exited {status}, not 1")
        # The fetch also marks this pg_wal as restored into, which would make the timed push clean
        # up after a recovery that never happened; a steady archiver's pg_wal has no such mark.
        marker = os.path.join(wal_dir, ".wal-archive", "restored")
        if os.path.exists(marker):
            os.unlink(marker)

    @staticmethod
    def process_env(extra):
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"}
        env.update(extra)
        return env

    def pgbackrest_conf(self, name, repo_path, stanza, cluster, tool_id="pgbackrest"):
        path = os.path.join(self.pgbackrest_dir, f"{name}.conf")
        lines = [
            "[global]",
            "repo1-type=s3", f"repo1-s3-bucket={self.server.bucket}", "repo1-s3-endpoint=127.0.0.1",
            f"repo1-storage-port={self.tls_port}", "repo1-s3-uri-style=path", "repo1-storage-verify-tls=n",
            f"repo1-s3-region={self.server.region}", f"repo1-s3-key={self.server.access_key}",
            f"repo1-s3-key-secret={self.server.secret_key}", f"repo1-path={repo_path}",
            f"log-path={self.pgbackrest_dir}/log", f"lock-path={self.pgbackrest_dir}/lock",
            f"spool-path={self.pgbackrest_dir}/spool/{name}", "log-level-console=warn", "log-level-file=off",
        ]
        if tool_id in ("pgbackrest-zst", "pgbackrest-async"):
            lines += ["compress-type=zst", "compress-level=1"]
        if tool_id == "pgbackrest-async":
            lines += ["archive-async=y", "archive-get-queue-max=256MiB",
                      "[global:archive-push]", f"process-max={OURS_PUSH_PARALLELISM}",
                      "[global:archive-get]", f"process-max={OURS_FETCH_PARALLELISM}"]
        lines += [f"[{stanza}]", f"pg1-path={cluster.datadir}", f"pg1-socket-path={cluster.socketdir}",
                  f"pg1-port={cluster.port}"]
        postgres_dir(os.path.join(self.pgbackrest_dir, "spool", name))
        with open(path, "w") as conf:
            conf.write("\n".join(lines) + "\n")
        shutil.chown(path, "postgres", "postgres")
        os.chmod(path, 0o600)
        return path

    # Commands ---------------------------------------------------------------------------------------
    def curl_base(self):
        return ["curl", "-sS", "--fail", "--aws-sigv4", f"aws:amz:{self.server.region}:s3",
                "--user", f"{self.server.access_key}:{self.server.secret_key}",
                "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"]

    def curl_put(self):
        # No Expect: 100-continue (one more round trip before the body; wal-push does not
        # send it): HTTP/1.0 has none. `-H Expect:` cannot be used, since curl's SigV4 signs
        # the emptied header and the server then refuses the signature.
        return self.curl_base() + ["--http1.0"]

    def push_argv(self, tool_id, segment_path, prefix, context):
        name = "%f" if segment_path == "%p" else os.path.basename(segment_path)
        tool = base_tool(tool_id)
        if tool == "ours":
            return [f"{self.bin}/wal-push", segment_path], self.ours_env(tool_id, prefix)
        if tool_id == "curl-raw":
            return self.curl_put() + ["-o", "/dev/null", "-T", segment_path,
                                       f"{self.endpoint}/{self.server.bucket}/{prefix}/{name}"], {}
        if tool_id == "curl-zstd":
            return self.curl_put() + ["-o", "/dev/null", "-T", self.floor_object,
                                       f"{self.endpoint}/{self.server.bucket}/{prefix}/{name}.zst"], {}
        if tool == "aws":
            return ([self.aws, "--endpoint-url", self.endpoint, "s3", "cp", "--only-show-errors", segment_path,
                     f"s3://{self.server.bucket}/{prefix}/{name}"], self.aws_env())
        if tool == "barman":
            compression = ["--lz4"] if tool_id == "barman-lz4" else []
            return ([self.barman("barman-cloud-wal-archive"), "--cloud-provider", "aws-s3", "--endpoint-url", self.endpoint]
                    + compression + [f"s3://{self.server.bucket}/{prefix}", SERVER_NAME, segment_path], self.aws_env())
        if tool == "pgbackrest":
            return (["pgbackrest", f"--config={context['pgbackrest_conf']}", f"--stanza={context['stanza']}",
                     "archive-push", segment_path], {})
        raise ValueError(tool_id)

    def fetch_argv(self, tool_id, name, target, prefix, context):
        tool = base_tool(tool_id)
        if tool == "ours":
            return [f"{self.bin}/wal-fetch", name, target], self.ours_env(tool_id, prefix)
        if tool_id == "curl-raw":
            return self.curl_base() + ["-o", target, f"{self.endpoint}/{self.server.bucket}/{prefix}/{name}"], {}
        if tool_id == "curl-zstd":
            return self.curl_base() + ["-o", target, f"{self.endpoint}/{self.server.bucket}/{prefix}/{name}.zst"], {}
        if tool == "aws":
            return ([self.aws, "--endpoint-url", self.endpoint, "s3", "cp", "--only-show-errors",
                     f"s3://{self.server.bucket}/{prefix}/{name}", target], self.aws_env())
        if tool == "barman":
            return ([self.barman("barman-cloud-wal-restore"), "--cloud-provider", "aws-s3", "--endpoint-url", self.endpoint,
                     f"s3://{self.server.bucket}/{prefix}", SERVER_NAME, name, target], self.aws_env())
        if tool == "pgbackrest":
            return (["pgbackrest", f"--config={context['pgbackrest_conf']}", f"--stanza={context['stanza']}",
                     "archive-get", name, target], {})
        raise ValueError(tool_id)

    def command_string(self, argv, env):
        """argv/env as one archive_command/restore_command line for PostgreSQL's /bin/sh -c."""
        assignments = " ".join(f"{key}={shell_quote(value)}" for key, value in env.items())
        words = " ".join(word if word in ("%p", "%f") else shell_quote(word) for word in argv)
        return f"{assignments} {words}".strip()

    def stanza_create(self, conf, stanza, online=True, as_user=True):
        argv = ["pgbackrest", f"--config={conf}", f"--stanza={stanza}"] + ([] if online else ["--no-online"]) + ["stanza-create"]
        return run(as_postgres(argv) if as_user else argv, check=False, timeout=120)


def tool_version(argv, env=None):
    try:
        result = run(argv, check=False, env=env, timeout=60)
        text = (result.stdout or result.stderr).strip().splitlines()
        return text[0] if text else "?"
    except Exception as error:  # noqa: BLE001
        return f"unavailable ({error})"


# ---------------------------------------------------------------------------------------------
# 0, 1 + 4: start-up, one push and one fetch of a real 16 MiB segment.

def make_source_cluster(workdir, args):
    cluster = Cluster(workdir, "source16", 16)
    cluster.init()
    cluster.start()
    cluster.pgbench(["-i", "-q", "-s", str(args.source_scale)])
    cluster.psql("CHECKPOINT")
    first = cluster.current_walfile()
    cluster.psql("SELECT pg_switch_wal()")
    cluster.psql("CREATE TABLE IF NOT EXISTS keepalive(x int); INSERT INTO keepalive VALUES (1)")
    # A full, completed segment written by pgbench -i: the one before the segment that was current.
    previous = cluster.segment_number(first) - 1
    candidates = sorted(f for f in os.listdir(os.path.join(cluster.datadir, "pg_wal")) if re.fullmatch(r"[0-9A-F]{24}", f))
    chosen = next((f for f in candidates if cluster.segment_number(f) == previous), candidates[0])
    segment_dir = postgres_dir(os.path.join(workdir, "segment", "pg_wal"))
    segment = os.path.join(segment_dir, chosen)
    shutil.copy2(os.path.join(cluster.datadir, "pg_wal", chosen), segment)
    os.chmod(segment, 0o644)
    return cluster, segment


def prepare_floor_object(tools, segment):
    """The fair floor sends what wal-push stores: push the segment once with our defaults, then
    download that object's bytes (zstd, as stored) with curl."""
    prefix = "floor/ours"
    tools.init_ours(prefix, wal_file=segment)
    argv, env = tools.push_argv("ours", segment, prefix, {})
    run(argv, env=tools.process_env(env))
    # The key wal-push chose: its date partition is the segment's modification date (UTC).
    date = datetime.datetime.fromtimestamp(os.path.getmtime(segment), datetime.timezone.utc).strftime("%Y-%m-%d")
    keys = [f"{prefix}/{date}/{os.path.basename(segment)}.zst"]
    path = os.path.join(tools.workdir, "segment", os.path.basename(segment) + ".zst")
    run(tools.curl_base() + ["-o", path, f"{tools.endpoint}/{tools.server.bucket}/{keys[0]}"])
    os.chmod(path, 0o644)
    tools.floor_object = path
    log(f"fair floor object: {keys[0]}, {os.path.getsize(path)} bytes (segment {os.path.getsize(segment)} bytes)")
    return {"key": keys[0], "bytes": os.path.getsize(path)}


def single_calls(args, tools, cluster, segment, shape):
    name = os.path.basename(segment)
    size = os.path.getsize(segment)
    scratch = os.path.join(tools.workdir, f"fetch-{shape.name}")
    samples = {tool: {"push": [], "fetch": []} for tool in args.tools}
    errors, first_calls, contexts = {}, {}, {tool: {} for tool in args.tools}
    rounds = args.runs + 1  # round 0 warms caches and is not counted
    for phase in ("push", "fetch"):
        for round_index in range(rounds):
            for tool in args.tools:
                if tool in errors:
                    continue
                prefix = f"single/{shape.name}/{tool}/run{round_index if phase == 'push' else 0}"
                context = contexts[tool]
                if base_tool(tool) == "pgbackrest":
                    stanza = f"{SERVER_NAME}-{shape.name}-{tool}-{round_index if phase == 'push' else 0}"
                    context["stanza"] = stanza
                    context["pgbackrest_conf"] = tools.pgbackrest_conf(f"single-{stanza}", f"/{prefix}", stanza, cluster,
                                                                       tool)
                    if phase == "push":
                        created = tools.stanza_create(context["pgbackrest_conf"], stanza, online=False, as_user=False)
                        if created.returncode != 0:
                            errors[tool] = f"stanza-create: {(created.stderr or created.stdout).strip()[-400:]}"
                            continue
                if phase == "push":
                    if base_tool(tool) == "ours":
                        tools.init_ours(prefix, wal_file=segment)
                        tools.warm_identity_copy(tool, prefix, os.path.dirname(segment))
                    argv, env = tools.push_argv(tool, segment, prefix, context)
                else:
                    # One pg_wal per tool across rounds, as in a real recovery: wal-fetch's hint
                    # from the previous call is there from round 1 on; round 0 is the cold call.
                    target_dir = os.path.join(scratch, tool, "pg_wal")
                    os.makedirs(target_dir, exist_ok=True)
                    target = os.path.join(target_dir, "RECOVERYXLOG")
                    argv, env = tools.fetch_argv(tool, name, target, prefix, context)
                sample = measure(argv, tools.process_env(env))
                if sample.status != 0:
                    errors[tool] = f"{phase} exited {sample.status}: {sample.stderr[-400:]}"
                    log(f"{tool} {phase} failed: {errors[tool]}")
                    continue
                if phase == "fetch":
                    expected = tools.floor_object if tool == "curl-zstd" else segment
                    if run(["cmp", "-s", expected, target], check=False).returncode != 0:
                        errors[tool] = "fetched file differs from the pushed one"
                        continue
                    os.unlink(target)
                if round_index > 0:
                    samples[tool][phase].append(sample)
                else:
                    first_calls.setdefault(tool, {})[phase] = sample.wall
    shutil.rmtree(scratch, ignore_errors=True)
    table = {}
    for tool in args.tools:
        entry = {"error": errors.get(tool)}
        for phase in ("push", "fetch"):
            runs = samples[tool][phase]
            entry[phase] = None if not runs else {
                "runs": len(runs),
                "wall_s": median([s.wall for s in runs]),
                "wall_min_s": min(s.wall for s in runs), "wall_max_s": max(s.wall for s in runs),
                "cpu_s": median([s.cpu for s in runs]), "user_s": median([s.user for s in runs]),
                "sys_s": median([s.system for s in runs]),
                "max_rss_kib": max(s.max_rss_kib for s in runs),
            }
        entry["first_call_wall_s"] = first_calls.get(tool, {})
        table[tool] = entry
    log(f"single calls {shape.name}: " + ", ".join(
        f"{t} push {fmt_ms(e['push'])} fetch {fmt_ms(e['fetch'])}" for t, e in table.items()))
    return {"segment": name, "segment_bytes": size, "tools": table}


def startup(args, tools):
    """Process start-up alone: each tool printing its version (no request)."""
    commands = {
        "ours": [f"{tools.bin}/wal-push", "--version"],
        "curl": ["curl", "--version"],
        "aws": [tools.aws, "--version"],
        "barman": [tools.barman("barman-cloud-wal-archive"), "--version"],
        "pgbackrest": ["pgbackrest", "version"],
    }
    table = {}
    for tool in commands:
        samples = [measure(commands[tool], tools.process_env({})) for _ in range(max(args.runs, 5) + 1)][1:]
        table[tool] = {"wall_s": median([s.wall for s in samples]), "cpu_s": median([s.cpu for s in samples]),
                       "max_rss_kib": max(s.max_rss_kib for s in samples), "command": " ".join(commands[tool][-1:])}
    return table


def fetch_work(args, tools, segment):
    """The work a verifying fetch of this segment cannot avoid, each piece timed alone on this
    machine in this run: decoding zstd level 1 (zstd's own in-memory benchmark of the segment,
    no start-up: its decompression speed; the stored object itself cannot be benchmarked, its
    frame does not record the decoded size), SHA-256 of the segment (OpenSSL through hashlib,
    as wal-fetch uses OpenSSL), and writing the segment into a new file on the file system
    pg_wal would be on. The fair floor (curl) does none of these for the decoded 16 MiB: it
    stores the zstd bytes."""
    runs = max(args.runs, 5)
    decode = run(["zstd", "-b1", "-i1", "-q", segment], check=False)
    # "-1 <size> (<ratio>) <compression> MB/s <decompression> MB/s <name>": the last speed.
    speed = re.findall(r"([0-9.]+) MB/s", decode.stdout + decode.stderr)
    size = os.path.getsize(segment)
    decode_ms = size / (float(speed[-1]) * 1e6) * 1000 if speed else None
    with open(segment, "rb") as source:
        data = source.read()
    hash_ms, write_ms = [], []
    for _ in range(runs):
        start = time.perf_counter()
        hashlib.sha256(data).digest()
        hash_ms.append((time.perf_counter() - start) * 1000)
        path = os.path.join(tools.workdir, "segment", "write-probe")
        start = time.perf_counter()
        with open(path, "wb", buffering=0) as target:
            target.write(data)
        write_ms.append((time.perf_counter() - start) * 1000)
        os.unlink(path)
    work = {"decode_ms": decode_ms, "sha256_ms": median(hash_ms), "write_ms": median(write_ms),
            "segment_bytes": size, "object_bytes": os.path.getsize(tools.floor_object)}
    log("fetch work: " + ", ".join(f"{k} {v:.1f}" for k, v in work.items() if k.endswith("_ms") and v is not None))
    return work


def fmt_ms(entry):
    return "-" if not entry else f"{entry['wall_s'] * 1000:.0f} ms"


# ---------------------------------------------------------------------------------------------
# WAL made by pgbench, kept as .ready segments of a stopped cluster: the backlog an archiver
# finds after an outage. Used by the drain and the pushed-ahead measurements.

LOAD_SCRIPT = """\\set aid random(1, 100000 * :scale - 2000)
UPDATE pgbench_accounts SET abalance = abalance + 1, filler = md5(random()::text) WHERE aid BETWEEN :aid AND :aid + 1999;
"""


def write_load_script(workdir):
    load_file = os.path.join(workdir, "load.sql")
    with open(load_file, "w") as script:
        script.write(LOAD_SCRIPT)
    os.chmod(load_file, 0o644)
    return load_file


def ready_names(datadir):
    status = os.path.join(datadir, "pg_wal", "archive_status")
    try:
        names = [f[:-len(".ready")] for f in os.listdir(status) if f.endswith(".ready")]
    except FileNotFoundError:
        return []
    # PostgreSQL's archiver: timeline history files first, then oldest first.
    return sorted(names, key=lambda n: (0 if n.endswith(".history") else 1, n))


class Backlog:
    """A stopped 16 MiB-segment cluster whose pg_wal holds at least N `.ready` segments."""

    def __init__(self, args, tools, cluster):
        self.args, self.tools, self.cluster = args, tools, cluster

    def prepare(self, count):
        # archive_mode on with no archive_command: PostgreSQL marks every completed segment
        # .ready and archives none (it waits for a command), as in an archive outage.
        cluster = Cluster(self.tools.workdir, "backlog", 16,
                          {"archive_mode": "on", "archive_command": "''", "wal_level": "replica",
                           "max_wal_size": "'8GB'"})
        cluster.init()
        cluster.start()
        cluster.pgbench(["-i", "-q", "-s", str(self.args.sustain_scale)])
        load_file = write_load_script(self.tools.workdir)
        for _ in range(500):
            if len(ready_names(cluster.datadir)) >= count:
                break
            cluster.pgbench(["-n", "-c", "2", "-j", "2", "-t", "20", "-s", str(self.args.sustain_scale), "-f", load_file])
            cluster.psql("SELECT pg_switch_wal()")
        cluster.stop("fast")
        self.cluster = cluster
        self.names = ready_names(cluster.datadir)
        log(f"backlog: {len(self.names)} ready segments of 16 MiB in {cluster.datadir}")

    def copy(self, label):
        """A copy of the stopped data directory (segments hard-linked: nothing writes them)."""
        target = os.path.join(self.tools.workdir, "pg", f"backlog-{label}")
        shutil.rmtree(target, ignore_errors=True)
        run(["cp", "-al", self.cluster.datadir, target])
        # archive_status entries are renamed, never written: links are fine there too; but
        # each copy needs its own directories, which cp -al makes.
        copy = Cluster(self.tools.workdir, f"backlog-{label}", 16)
        copy.datadir = target
        return copy


def archive_like_postgres(argv_for, env, datadir, names, user="postgres"):
    """Calls the archive command for each name in order, one call at a time, in the data
    directory with %p = pg_wal/<name>, renaming .ready to .done after each success, as
    PostgreSQL's archiver does (it retries a failed file; here three attempts, then give up)."""
    status = os.path.join(datadir, "pg_wal", "archive_status")
    walls = []
    for name in names:
        for attempt in range(3):
            sample = measure(argv_for(f"pg_wal/{name}"), env, cwd=datadir, user=user, timeout=600)
            if sample.status == 0:
                break
        else:
            raise RuntimeError(f"archive command failed 3 times for {name}: {sample.stderr[-400:]}")
        os.rename(os.path.join(status, name + ".ready"), os.path.join(status, name + ".done"))
        walls.append(sample.wall)
    return walls


def drain(args, tools, backlog, shape, endpoints):
    count = min(args.drain_segments, len(backlog.names))
    names = backlog.names[:count]
    outcome = {"segments": count, "segment_mib": 16, "tools": {}}
    for tool in args.drain_tools:
        copy = backlog.copy(f"drain-{shape.name}-{tool}")
        prefix = f"drain/{shape.name}/{tool}"
        context = {}
        entry = {}
        try:
            if base_tool(tool) == "pgbackrest":
                stanza = f"drain-{shape.name}-{tool}"
                context = {"stanza": stanza,
                           "pgbackrest_conf": tools.pgbackrest_conf(f"drain-{shape.name}-{tool}", f"/{prefix}", stanza,
                                                                    copy, tool)}
                created = tools.stanza_create(context["pgbackrest_conf"], stanza, online=False)
                if created.returncode != 0:
                    raise RuntimeError(f"stanza-create: {(created.stderr or created.stdout).strip()[-400:]}")
            if base_tool(tool) == "ours":
                tools.init_ours(prefix, datadir=copy.datadir)
            _, env = tools.push_argv(tool, "%p", prefix, context)

            def argv_for(path):
                return tools.push_argv(tool, path, prefix, context)[0]

            started = time.monotonic()
            walls = archive_like_postgres(argv_for, tools.process_env(env), copy.datadir, names)
            seconds = time.monotonic() - started
            entry = {"seconds": seconds, "per_s": count / seconds, "call_ms_median": median(walls) * 1000,
                     "call_ms_max": max(walls) * 1000}
            log(f"drain {shape.name} {tool}: {count} segments in {seconds:.1f} s ({count / seconds:.2f}/s)")
        except Exception as error:  # noqa: BLE001 — a tool that cannot run is a result too
            entry = {"error": str(error)[-600:]}
            log(f"drain {shape.name} {tool}: {entry['error']}")
        finally:
            shutil.rmtree(copy.datadir, ignore_errors=True)
        outcome["tools"][tool] = entry
    return outcome


def pushed_ahead(args, tools, backlog):
    """The call PostgreSQL makes for a segment push-ahead already stored: its cost against
    start-up alone (`wal-push --version`), both as PostgreSQL runs them (user postgres, cwd the
    data directory, %p relative)."""
    copy = backlog.copy("pushed-ahead")
    prefix = "pushed-ahead/ours"
    tools.init_ours(prefix, datadir=copy.datadir)
    _, env = tools.push_argv("ours", "%p", prefix, {})
    env = tools.process_env(env)
    names = ready_names(copy.datadir)
    try:
        # The first call stores its own segment and pushes the next ones ahead.
        archive_like_postgres(lambda p: [f"{tools.bin}/wal-push", p], env, copy.datadir, names[:1])
        record_dir = os.path.join(copy.datadir, "pg_wal", ".wal-archive", "pushed")
        recorded = [n for n in names[1:] if os.path.exists(os.path.join(record_dir, n))]
        hits, startups = [], []
        status = os.path.join(copy.datadir, "pg_wal", "archive_status")
        for name in recorded[:args.runs * 2]:
            startups.append(measure([f"{tools.bin}/wal-push", "--version"], env, cwd=copy.datadir, user="postgres").wall)
            sample = measure([f"{tools.bin}/wal-push", f"pg_wal/{name}"], env, cwd=copy.datadir, user="postgres")
            if sample.status != 0:
                raise RuntimeError(f"wal-push of a pushed-ahead segment exited {sample.status}: {sample.stderr[-300:]}")
            if os.path.exists(os.path.join(record_dir, name)):
                raise RuntimeError("the record was not used")
            os.rename(os.path.join(status, name + ".ready"), os.path.join(status, name + ".done"))
            hits.append(sample.wall)
        result = {"calls": len(hits), "recorded": len(recorded), "hit_ms_median": median(hits) * 1000 if hits else None,
                  "hit_ms_max": max(hits) * 1000 if hits else None,
                  "startup_ms_median": median(startups) * 1000 if startups else None}
        log(f"pushed-ahead record hit: {result}")
        return result
    except Exception as error:  # noqa: BLE001
        log(f"pushed-ahead: {error}")
        return {"error": str(error)[-600:]}
    finally:
        shutil.rmtree(copy.datadir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# 2: sustained archiving under pgbench load.

def archive_backlog(cluster):
    return len(ready_names(cluster.datadir))


def sustained(args, tools, shape):
    load_file = write_load_script(tools.workdir)
    outcome = {"seconds": args.sustain_seconds, "clients": 2, "rate_tps": args.sustain_rate, "segment_mib": 16,
               "workload": "pgbench -f load.sql (UPDATE of 2000 pgbench_accounts rows per transaction)", "tools": {}}
    for tool in args.sustain_tools:
        log(f"sustained archiving {shape.name}: {tool}")
        cluster = Cluster(tools.workdir, f"sustain-{shape.name}-{tool}", 16,
                          {"archive_mode": "on", "archive_timeout": "0", "wal_level": "replica"})
        cluster.init()
        prefix = f"sustain/{shape.name}/{tool}"
        context = {}
        if base_tool(tool) == "ours":
            tools.init_ours(prefix, datadir=cluster.datadir)
        if base_tool(tool) == "pgbackrest":
            context["stanza"] = f"sustain-{shape.name}-{tool}"
            context["pgbackrest_conf"] = tools.pgbackrest_conf(context["stanza"], f"/{prefix}", context["stanza"],
                                                               cluster, tool)
        argv, env = tools.push_argv(tool, "%p", prefix, context)
        cluster.configure({"archive_command": conf_quote(tools.command_string(argv, env))})
        cluster.start()
        entry = {}
        try:
            if base_tool(tool) == "pgbackrest":
                created = tools.stanza_create(context["pgbackrest_conf"], context["stanza"])
                if created.returncode != 0:
                    raise RuntimeError(f"stanza-create: {(created.stderr or created.stdout).strip()[-400:]}")
            cluster.pgbench(["-i", "-q", "-s", str(args.sustain_scale)])
            cluster.psql("CHECKPOINT")
            cluster.psql("SELECT pg_switch_wal()")
            settle_started = time.monotonic()
            while archive_backlog(cluster) > 0 and time.monotonic() - settle_started < 240:
                archived = int(cluster.psql("SELECT archived_count FROM pg_stat_archiver"))
                if archived == 0 and time.monotonic() - settle_started > 30:
                    tail = open(cluster.logfile).read()[-1200:] if os.path.exists(cluster.logfile) else ""
                    raise RuntimeError(f"archive_command archived nothing in 30 s: {tail}")
                time.sleep(0.5)
            entry["backlog_before_load"] = archive_backlog(cluster)
            start_archived = int(cluster.psql("SELECT archived_count FROM pg_stat_archiver"))
            start_segment = cluster.segment_number(cluster.current_walfile())
            bench_args = ["-n", "-c", "2", "-j", "2", "-T", str(args.sustain_seconds), "-s", str(args.sustain_scale),
                          "-f", load_file]
            if args.sustain_rate:
                bench_args += ["-R", str(args.sustain_rate)]
            load = subprocess.Popen(as_postgres([f"{PG_BIN}/pgbench", "-h", cluster.socketdir, "-p", str(cluster.port),
                                                 "-U", "postgres"] + bench_args + ["postgres"]),
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                    start_new_session=True)
            CLEANUP.add(lambda: stop_process(load))
            started = time.monotonic()
            series = []
            while load.poll() is None and time.monotonic() - started < args.sustain_seconds + 60:
                row = cluster.psql("SELECT pg_walfile_name(pg_current_wal_lsn()), coalesce(last_archived_wal, ''), "
                                   "archived_count, failed_count FROM pg_stat_archiver").split("|")
                current = cluster.segment_number(row[0])
                archived_segment = cluster.segment_number(row[1]) if re.fullmatch(r"[0-9A-F]{24}", row[1]) else current
                series.append({"t": round(time.monotonic() - started, 2), "current": current - start_segment,
                               "archived": int(row[2]) - start_archived, "failed": int(row[3]),
                               "ready": archive_backlog(cluster), "lag": max(0, current - archived_segment - 1)})
                time.sleep(0.5)
            load_output = load.communicate(timeout=60)[0]
            load_seconds = time.monotonic() - started
            end_segment = cluster.segment_number(cluster.current_walfile())
            end_archived = int(cluster.psql("SELECT archived_count FROM pg_stat_archiver")) - start_archived
            drain_start = time.monotonic()
            while archive_backlog(cluster) > 0 and time.monotonic() - drain_start < args.drain_seconds:
                time.sleep(0.25)
            tps = re.search(r"tps = ([0-9.]+)", load_output)
            produced = end_segment - start_segment
            lags = [point["ready"] for point in series]
            entry.update({
                "load_seconds": round(load_seconds, 1),
                "tps": float(tps.group(1)) if tps else None,
                "segments_produced": produced,
                "produced_per_s": produced / load_seconds,
                "segments_archived": end_archived,
                "archived_per_s": end_archived / load_seconds,
                "backlog_max": max(lags) if lags else None,
                "backlog_mean": statistics.mean(lags) if lags else None,
                "backlog_end_of_load": lags[-1] if lags else None,
                "samples_at_2_or_more": sum(1 for value in lags if value >= 2),
                "samples": len(lags),
                "stat_lag_max": max((p["lag"] for p in series), default=None),
                "failed_count": series[-1]["failed"] if series else None,
                "drain_s": round(time.monotonic() - drain_start, 1),
                "drained": archive_backlog(cluster) == 0,
                "backlog_after_drain": archive_backlog(cluster),
                "series": series,
            })
            log(f"  {tool}: produced {produced} segs ({entry['produced_per_s']:.2f}/s), archived "
                f"{end_archived} ({entry['archived_per_s']:.2f}/s), backlog max {entry['backlog_max']}, "
                f"end {entry['backlog_end_of_load']}, drain {entry['drain_s']} s")
        except Exception as error:  # noqa: BLE001 — a tool that cannot run is a result too
            entry["error"] = str(error)[-600:]
            log(f"  {tool}: {entry['error']}")
        finally:
            cluster.stop("immediate")
            shutil.rmtree(cluster.datadir, ignore_errors=True)
        outcome["tools"][tool] = entry
    return outcome


# ---------------------------------------------------------------------------------------------
# 3: PITR replay of many segments.

class PITRSource:
    """A base backup and the archive of the WAL generated after it, uploaded once per tool."""

    def __init__(self, args, tools, segsize, segments):
        self.args, self.tools = args, tools
        self.segsize, self.segments = segsize, segments
        self.workdir = tools.workdir
        self.label = f"pitr{segsize}"
        self.cluster = None
        self.error = {}

    def prepare(self):
        args = self.args
        archive = postgres_dir(os.path.join(self.workdir, f"{self.label}-archive"))
        self.archive = archive
        cluster = Cluster(self.workdir, f"{self.label}-source", self.segsize,
                          {"archive_mode": "on", "archive_timeout": "0", "wal_level": "replica",
                           "archive_command": conf_quote(f"test ! -f {archive}/%f && cp %p {archive}/%f")})
        self.cluster = cluster
        cluster.init()
        cluster.start()
        cluster.pgbench(["-i", "-q", "-s", str(args.pitr_scale)])
        self.base = os.path.join(self.workdir, "pg", f"{self.label}-base")
        run(as_postgres([f"{PG_BIN}/pg_basebackup", "-h", cluster.socketdir, "-p", str(cluster.port), "-U", "postgres",
                         "-D", self.base, "-X", "stream", "-c", "fast", "--no-sync"]), timeout=600)
        start_lsn_segment = cluster.segment_number(cluster.current_walfile())
        load_file = write_load_script(self.workdir)
        target = start_lsn_segment + self.segments
        for _ in range(5000):
            if cluster.segment_number(cluster.current_walfile()) >= target:
                break
            cluster.pgbench(["-n", "-c", "2", "-j", "2", "-t", "10", "-s", str(args.pitr_scale), "-f", load_file])
        # A named restore point is a WAL record of its own, so the target is never a segment
        # boundary that no archived segment contains.
        self.target_lsn = cluster.psql("SELECT pg_create_restore_point('wal-bench-target')")
        target_file = cluster.psql(f"SELECT pg_walfile_name('{self.target_lsn}')")
        cluster.psql("SELECT pg_switch_wal()")
        deadline = time.monotonic() + 300
        while not os.path.exists(os.path.join(archive, target_file)) and time.monotonic() < deadline:
            time.sleep(0.2)
        files = sorted(f for f in os.listdir(archive) if re.fullmatch(r"[0-9A-F]{24}", f))
        with open(os.path.join(self.base, "backup_label")) as label:
            base_file = re.search(r"START WAL LOCATION: .* \(file ([0-9A-F]{24})\)", label.read()).group(1)
        self.replayed_segments = cluster.segment_number(target_file) - cluster.segment_number(base_file) + 1
        self.files = files
        cluster.stop("fast")
        log(f"PITR source: {len(files)} archived segments of {self.segsize} MiB, "
            f"{self.replayed_segments} to replay from {base_file} to {target_file} (LSN {self.target_lsn})")

    def upload(self, tool_ids):
        """Puts the archive into each tool's own layout, once, straight at the server (no delay)."""
        tools, bucket = self.tools, self.tools.server.bucket
        paths = [os.path.join(self.archive, f) for f in self.files]
        env = tools.process_env(tools.aws_env())
        done = set()
        for tool_id in tool_ids:
            layout = self.layout(tool_id)
            if layout in done or tool_id == "cp":
                continue
            done.add(layout)
            started = time.monotonic()
            try:
                if base_tool(tool_id) == "ours":
                    tools.init_ours(f"{self.label}/ours", datadir=self.cluster.datadir)
                    pushed = subprocess.run(["xargs", "-P", "2", "-n", "1", f"{tools.bin}/wal-push"],
                                            input="\n".join(paths), text=True, capture_output=True, timeout=1800,
                                            env=tools.process_env(tools.ours_env("ours", f"{self.label}/ours")))
                    if pushed.returncode != 0:
                        raise RuntimeError(f"wal-push: {pushed.stderr.strip()[-400:]}")
                elif tool_id == "aws":
                    run([tools.aws, "--endpoint-url", tools.endpoint, "s3", "cp", "--recursive", "--only-show-errors",
                         self.archive, f"s3://{bucket}/{self.label}/aws/"], env=env, timeout=1800)
                elif base_tool(tool_id) == "pgbackrest":
                    conf = tools.pgbackrest_conf(f"{self.label}-push-{layout}", f"/{self.label}/{layout}", "pitr",
                                                 self.cluster, layout)
                    created = tools.stanza_create(conf, "pitr", online=False)
                    if created.returncode != 0:
                        raise RuntimeError(f"stanza-create: {(created.stderr or created.stdout).strip()[-400:]}")
                    pushed = subprocess.run(as_postgres(["xargs", "-P", "2", "-n", "1", "pgbackrest", f"--config={conf}",
                                                         "--stanza=pitr", "archive-push"]), input="\n".join(paths),
                                            text=True, capture_output=True, timeout=1800)
                    if pushed.returncode != 0:
                        raise RuntimeError(f"pgbackrest archive-push: {pushed.stderr.strip()[-400:]}")
                log(f"{self.label} archive uploaded for {layout} in {time.monotonic() - started:.1f} s")
            except Exception as error:  # noqa: BLE001
                self.error[layout] = f"upload: {str(error)[-500:]}"
                log(f"{self.label} upload for {layout} failed: {self.error[layout]}")

    @staticmethod
    def layout(tool_id):
        """Which uploaded archive a variant reads: pgBackRest's zst archive serves its async variant."""
        if tool_id == "pgbackrest-async":
            return "pgbackrest-zst"
        return base_tool(tool_id) if base_tool(tool_id) != "pgbackrest" else tool_id

    def restore(self, variant, shape):
        tools = self.tools
        layout = self.layout(variant)
        name = f"restore-{self.label}-{shape.name}-{variant}"
        datadir = os.path.join(self.workdir, "pg", name)
        run(["cp", "-a", self.base, datadir])
        run(["chown", "-R", "postgres:postgres", datadir])
        cluster = Cluster(self.workdir, name, self.segsize)
        if variant == "cp":
            command = f"cp {shell_quote(self.archive)}/%f %p"
        elif base_tool(variant) == "pgbackrest":
            conf = tools.pgbackrest_conf(name, f"/{self.label}/{layout}", "pitr", cluster, variant)
            argv, env = tools.fetch_argv(variant, "%f", "%p", "", {"stanza": "pitr", "pgbackrest_conf": conf})
            command = tools.command_string(argv, env)
        else:
            argv, env = tools.fetch_argv(variant, "%f", "%p", f"{self.label}/{layout}", {})
            if tools.profiler and base_tool(variant) == "ours":
                env = dict(env, WAL_ARCHIVE_LOG="info")  # served or downloaded, per call
            command = tools.command_string(argv, env)
        calls_log = None
        if tools.profiler:
            command, calls_log = tools.profiler.wrap(command, name)
        settings = cluster.base_settings()
        settings.update({"restore_command": conf_quote(command),
                         "recovery_target_name": "'wal-bench-target'", "recovery_target_action": "'promote'",
                         "archive_mode": "off", "hot_standby": "off"})
        cluster.configure(settings)
        signal_file = os.path.join(datadir, "recovery.signal")
        open(signal_file, "w").close()
        shutil.chown(signal_file, "postgres", "postgres")
        profiled = tools.profiler.start() if tools.profiler else None
        started = time.monotonic()
        cluster.start(wait=False)
        timeout = self.args.pitr_timeout
        outcome = {"variant": variant}
        polls = 0
        while os.path.exists(signal_file) and time.monotonic() - started < timeout:
            polls += 1
            if polls % 100 == 0 and run(as_postgres([f"{PG_BIN}/pg_ctl", "-D", datadir, "status"]),
                                        check=False).returncode != 0:
                break
            time.sleep(0.02)
        elapsed = time.monotonic() - started
        if profiled:
            try:
                postmaster = int(open(os.path.join(datadir, "postmaster.pid")).readline())
            except (OSError, ValueError):
                postmaster = None
            profile = tools.profiler.finish(name, profiled, calls_log, cluster.logfile, tools.server.process.pid, postmaster,
                                             f"{tools.bin}/wal-fetch")
            log(pitr_profile.summary(profile))
        if os.path.exists(signal_file):
            tail = open(cluster.logfile).read()[-800:] if os.path.exists(cluster.logfile) else ""
            outcome["error"] = (f"recovery did not finish within {timeout} s" if elapsed >= timeout
                                else "server stopped during recovery") + f": {tail}"
        else:
            outcome["seconds"] = elapsed
            outcome["per_segment_ms"] = elapsed * 1000 / self.replayed_segments
            # The promoted cluster must have replayed up to the target.
            for _ in range(600):
                if run(as_postgres([f"{PG_BIN}/pg_isready", "-h", cluster.socketdir, "-p", str(cluster.port)]),
                       check=False).returncode == 0:
                    break
                time.sleep(0.1)
            reached = cluster.psql(f"SELECT pg_last_wal_replay_lsn() >= '{self.target_lsn}'::pg_lsn "
                                   f"OR pg_current_wal_lsn() >= '{self.target_lsn}'::pg_lsn")
            if reached != "t":
                outcome["error"] = "recovery ended before the target LSN"
        cluster.stop("immediate")
        shutil.rmtree(datadir, ignore_errors=True)
        log(f"{self.label} {shape.name} {variant}: "
            + (f"{outcome['seconds']:.1f} s" if "seconds" in outcome else outcome["error"][:300]))
        return outcome


def pitr(source, variants, shape):
    outcomes = {}
    for variant in variants:
        layout = source.layout(variant)
        if layout in source.error:
            outcomes[variant] = {"variant": variant, "error": source.error[layout]}
            continue
        try:
            outcomes[variant] = source.restore(variant, shape)
        except Exception as error:  # noqa: BLE001
            outcomes[variant] = {"variant": variant, "error": str(error)[-600:]}
            log(f"{source.label} {variant}: {outcomes[variant]['error']}")
    return {"segments": source.replayed_segments, "segment_mib": source.segsize,
            "archived_files": len(source.files), "variants": outcomes}


# ---------------------------------------------------------------------------------------------

def machine_facts():
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kib = 0
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal"):
            mem_kib = int(line.split()[1])
    os_name = "?"
    if os.path.exists("/etc/os-release"):
        for line in open("/etc/os-release"):
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip().strip('"')
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory_gib": round(mem_kib / 1024 / 1024, 1),
            "kernel": platform.release(), "os": os_name}


def moto_pin():
    """The moto version the project pins for its tests (.ci/run)."""
    try:
        match = re.search(r"moto\[server\]==([0-9.]+)", open(os.path.join(REPO_DIR, ".ci", "run")).read())
        return match.group(1) if match else None
    except OSError:
        return None


def versions(args, tools):
    ours_env = tools.process_env({"WAL_ARCHIVE_CONFIG": "none"})
    return {
        "wal-push": tool_version([f"{tools.bin}/wal-push", "--version"], ours_env),
        "swift": tool_version(["swift", "--version"]),
        "aws": tool_version([args.aws_bin, "--version"]),
        "barman-cloud-wal-archive": tool_version([tools.barman("barman-cloud-wal-archive"), "--version"]),
        "pgbackrest": tool_version(["pgbackrest", "version"]),
        "curl": tool_version(["curl", "--version"]).split(" libcurl")[0],
        "postgresql": tool_version([f"{PG_BIN}/postgres", "--version"]),
        "moto": tool_version([sys.executable, "-c", "import moto; print(moto.__version__)"]),
        "socat": next((line.strip() for line in run(["socat", "-V"], check=False).stdout.splitlines()
                       if line.startswith("socat version")), "?"),
        "python": sys.version.split()[0],
    }


def public_arguments(argv):
    """The command line as the user typed it to bench/run (without the paths bench/run adds)."""
    shown, skip = [], False
    for word in argv:
        if skip:
            skip = False
            continue
        if word in ("--ours-bin", "--aws-bin"):
            skip = True
            continue
        if word.startswith(("--ours-bin=", "--aws-bin=")):
            continue
        shown.append(word)
    return shown


WALG_NOTE = ("WAL-G (Go) is not measured: it is packaged neither by Debian nor on PyPI, the only registries "
             "this machine reaches; building it needs its Go module dependencies (cloud SDKs) from the Go "
             "module proxy or GitHub, which are unreachable here, and Debian's Go (1.19) is older than its "
             "sources require.")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="measured runs per single push/fetch (median)")
    parser.add_argument("--quick", action="store_true", help="few runs, short load, small PITR (development)")
    parser.add_argument("--delay", choices=("auto", "netem", "relay"), default="auto",
                        help="how to add RTT and bandwidth: netem in a namespace, or the userspace relay")
    parser.add_argument("--shapes", default="0,20,20@1000,20@200",
                        help="network shapes of the single push/fetch: RTT_MS[@MBIT_PER_S], comma-separated")
    parser.add_argument("--sustain-shapes", default="20")
    parser.add_argument("--drain-shapes", default="0,20")
    parser.add_argument("--pitr-shapes", default="0,20", help="shapes of the PITR replay of 1 MiB segments")
    parser.add_argument("--pitr16-shapes", default="20", help="shapes of the PITR replay of 16 MiB segments")
    parser.add_argument("--tools", default="ours,ours-nocomp,curl-zstd,curl-raw,aws,barman,barman-lz4,"
                                           "pgbackrest,pgbackrest-zst")
    parser.add_argument("--sustain-tools", default="ours,pgbackrest-async,aws")
    parser.add_argument("--drain-tools", default="ours,pgbackrest-async,aws")
    parser.add_argument("--pitr-tools", default="cp,ours,ours-noprefetch,pgbackrest-async,pgbackrest")
    parser.add_argument("--pitr16-tools", default="cp,ours,pgbackrest-async")
    parser.add_argument("--sustain-seconds", type=int, default=30)
    parser.add_argument("--drain-seconds", type=int, default=30, help="how long to wait for the backlog after the load")
    parser.add_argument("--sustain-rate", type=float, default=0,
                        help="pgbench -R transactions/s for the load (0: as fast as it goes)")
    parser.add_argument("--sustain-scale", type=int, default=20)
    parser.add_argument("--drain-segments", type=int, default=64, help="ready 16 MiB segments the drain archives")
    parser.add_argument("--pitr-segments", type=int, default=200)
    parser.add_argument("--pitr16-segments", type=int, default=32)
    parser.add_argument("--pitr-scale", type=int, default=5)
    parser.add_argument("--pitr-timeout", type=int, default=900)
    parser.add_argument("--source-scale", type=int, default=15, help="pgbench -i scale of the cluster the 16 MiB segment comes from")
    parser.add_argument("--ours-env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra environment for wal-push/wal-fetch everywhere")
    parser.add_argument("--ours-bin", required=True, help="folder with the built wal-push and wal-fetch")
    parser.add_argument("--aws-bin", default=shutil.which("aws") or "aws")
    parser.add_argument("--results", default=os.path.join(BENCH_DIR, "results"))
    parser.add_argument("--s3", choices=("moto", "rgw"), default="moto",
                        help="the S3 server: moto (scripts/local-s3-server) or Ceph RGW (scripts/rgw-server)")
    parser.add_argument("--pitr-profile", metavar="DIR",
                        help="profile each PITR replay (every call, the workers, the S3 server, the startup process) "
                             "into DIR and the log: lib/pitr_profile.py")
    parser.add_argument("--skip", default="", help="sections to skip: single,pushed-ahead,sustained,drain,pitr,pitr16")
    args = parser.parse_args()
    if args.quick:
        args.runs = min(args.runs, 3)
        args.shapes = "0,20@200" if args.shapes == parser.get_default("shapes") else args.shapes
        args.sustain_seconds = min(args.sustain_seconds, 10)
        args.sustain_scale = min(args.sustain_scale, 5)
        args.drain_segments = min(args.drain_segments, 12)
        args.drain_shapes = "20" if args.drain_shapes == parser.get_default("drain_shapes") else args.drain_shapes
        args.pitr_segments = min(args.pitr_segments, 30)
        args.pitr_shapes = "20" if args.pitr_shapes == parser.get_default("pitr_shapes") else args.pitr_shapes
        args.pitr16_segments = min(args.pitr16_segments, 6)
        args.source_scale = min(args.source_scale, 8)
    for name in ("tools", "sustain_tools", "drain_tools", "pitr_tools", "pitr16_tools"):
        setattr(args, name, [t for t in getattr(args, name).split(",") if t])
    for name in ("shapes", "sustain_shapes", "drain_shapes", "pitr_shapes", "pitr16_shapes"):
        setattr(args, name, parse_shapes(getattr(args, name)))
    args.skip = set(s for s in args.skip.split(",") if s)
    if args.quick and args.results == os.path.join(BENCH_DIR, "results"):
        args.results = os.path.join(BENCH_DIR, "work", "results")  # quick figures are not the committed ones
    return args


def main():
    args = parse_args()
    started = datetime.datetime.now(datetime.timezone.utc)
    started_clock = time.monotonic()
    workdir = make_workdir()
    CLEANUP.add(lambda: shutil.rmtree(workdir, ignore_errors=True))
    log(f"work directory {workdir}")
    all_shapes = {s.name: s for s in args.shapes + args.sustain_shapes + args.drain_shapes + args.pitr_shapes
                  + args.pitr16_shapes}

    network = Network()
    wants_delay = any(s.name != "loopback" for s in all_shapes.values())
    use_netem = wants_delay and args.delay in ("auto", "netem") and network.try_netem()
    if wants_delay and not use_netem:
        if args.delay == "netem":
            raise SystemExit(f"netem requested but unavailable: {network.note}")
        log(f"no netem ({network.note}); RTT and bandwidth are added by the userspace delay relay")
    server = start_s3_server(NETNS if use_netem else None, args.s3)
    log(f"S3 server at {server.endpoint}, bucket {server.bucket}")
    direct_endpoint = server.endpoint
    if use_netem:
        direct_endpoint = f"http://{VETH_NS_ADDR}:{start_netns_forwarder(server)}"
    endpoints = Endpoints(workdir, server, network, use_netem, direct_endpoint)
    loopback = Shape("0")

    tools = Tools(args, workdir, server)
    if args.pitr_profile:
        tools.profiler = pitr_profile.ReplayProfiler(os.path.abspath(args.pitr_profile))
        CLEANUP.add(tools.profiler.close)
    tools.set_endpoint(*endpoints.activate(loopback))
    pin = moto_pin()
    results = {"started": started.isoformat(timespec="seconds"), "machine": machine_facts(),
               "load_average_start": os.getloadavg(), "nice": os.nice(0), "versions": versions(args, tools),
               "moto_pin": pin, "s3_server": args.s3,
               "quick": args.quick, "runs": args.runs, "settings": SETTINGS, "walg": WALG_NOTE,
               "parallelism": {"push": OURS_PUSH_PARALLELISM, "fetch": OURS_FETCH_PARALLELISM},
               "command": " ".join(public_arguments(sys.argv[1:])), "shapes": {}, "single": {}, "sustained": {},
               "drain": {}, "pitr": {}, "pitr16": {}}
    if pin and results["versions"]["moto"] != pin:
        raise SystemExit(f"moto {results['versions']['moto']} is installed, the project pins {pin}: bench/run installs the pin")

    def use(shape):
        tools.set_endpoint(*endpoints.activate(shape))
        results["shapes"][shape.name] = dict(shape.describe(), network=endpoints.notes[shape.name])
        log(f"=== {shape.label}: endpoint {tools.endpoint}")

    source_cluster, segment = make_source_cluster(workdir, args)
    if "single" not in args.skip:
        results["floor_object"] = prepare_floor_object(tools, segment)
        results["startup"] = startup(args, tools)
        results["fetch_work"] = fetch_work(args, tools, segment)
        for shape in args.shapes:
            use(shape)
            results["single"][shape.name] = single_calls(args, tools, source_cluster, segment, shape)
    source_cluster.stop("fast")

    if not {"drain", "pushed-ahead"} <= args.skip:
        backlog = Backlog(args, tools, None)
        backlog.prepare(max(args.drain_segments, 4 * OURS_PUSH_PARALLELISM + args.runs * 2 + 2))
        if "pushed-ahead" not in args.skip:
            use(loopback)
            results["pushed_ahead"] = pushed_ahead(args, tools, backlog)
        if "drain" not in args.skip:
            for shape in args.drain_shapes:
                use(shape)
                results["drain"][shape.name] = drain(args, tools, backlog, shape, endpoints)
        shutil.rmtree(backlog.cluster.datadir, ignore_errors=True)

    if "sustained" not in args.skip:
        for shape in args.sustain_shapes:
            use(shape)
            results["sustained"][shape.name] = sustained(args, tools, shape)

    for key, segsize, segments, shapes, variants in (
            ("pitr", 1, args.pitr_segments, args.pitr_shapes, args.pitr_tools),
            ("pitr16", 16, args.pitr16_segments, args.pitr16_shapes, args.pitr16_tools)):
        if key in args.skip or not shapes or not variants:
            continue
        use(loopback)
        source = PITRSource(args, tools, segsize, segments)
        source.prepare()
        source.upload(variants)
        for shape in shapes:
            use(shape)
            results[key][shape.name] = pitr(source, variants, shape)
        for path in (source.archive, source.base, source.cluster.datadir):
            shutil.rmtree(path, ignore_errors=True)

    if use_netem:
        network.set_netem(0)
    results["finished"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    results["duration_s"] = round(time.monotonic() - started_clock)
    results["load_average_end"] = os.getloadavg()
    os.makedirs(args.results, exist_ok=True)
    name = f"{started.strftime('%Y-%m-%d')}{'-quick' if args.quick else ''}"
    path = os.path.join(args.results, f"{name}.json")
    with open(path, "w") as out:
        json.dump(results, out, indent=1, default=str)
    log(f"wrote {path} after {results['duration_s']} s")
    run([sys.executable, os.path.join(BENCH_DIR, "lib", "report.py"), "--results", args.results, path],
        timeout=300, check=True)


if __name__ == "__main__":
    main()
