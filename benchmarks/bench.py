#!/usr/bin/env python3
"""check_pryv's performance benchmark: start-up against the import floor, honest `time`, throughput, black
holes, memory.

    .venv/bin/python benchmarks/bench.py [--runs 20]

Starts the sandbox platform in a process of its own and, as on a stock Debian, makes the plugins trust it
through the system's store: a private, hashed copy of /etc/ssl/certs with the sandbox's CA added (openssl
rehash), named by SSL_CERT_DIR, with SSL_CERT_FILE unset and no --ca-cert. Then it measures in one run,
side by side:

* start-up: each plugin's whole process (the installed console script, the sandbox's own command lines)
  against its import floor, `python -c "import <the libraries that plugin needs>"` with the same
  interpreter (argparse, nagiosplugin and requests or dnspython's modules, as issue 15 defines it), and
  the reference tools where installed (monitoring-plugins' check_http, check_curl, check_dig; the guide's
  curl and dig). The commands run round-robin, in a shuffled order each round, each
  plugin right next to a run of its bare floor (the same imports, then os._exit), so that a noisy machine
  weighs on a plugin and on its floor alike. The target is the median over the rounds of a plugin's time
  over that of the floor run next to it;
* throughput: check_pryv_register, _core and _dns, check_http, check_curl and check_dig, each run many
  times by --concurrency processes at once as a checker runs them: checks per minute, and CPU ms per
  check (user + system, from wait4), hence how many checks a minute one CPU core sustains;
* the `time` perfdata of the HTTP plugins while the sandbox delays each answer by 0.3 s, and that of
  the DNS plugin without delay;
* how long each plugin takes to give up on a black hole (a port that never completes the TCP handshake,
  a port that accepts and never answers, a UDP port that never answers) with --timeout 3;
* each run's peak memory (max RSS, from wait4).

It prints the figures next to the targets as a reStructuredText table and exits 1 when a target is
missed (2 when the benchmark itself could not run). Standard library only, plus the openssl command to
hash the trust store; hyperfine, where installed, cross-checks the start-up medians. Run it with the
virtualenv's python (not a pyenv shim), on an idle machine: but for the throughput part, it runs one
process at a time.
"""
import argparse
import json
import os
import platform
import random
import re
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

TARGET_RATIO = 1.10  # whole-process wall time over the import floor
DELAY = 0.3  # the sandbox's delay, seconds, when `time` is checked
TIME_RANGE = (0.300, 0.315)  # the `time` reported under that delay
DNS_TIME_MAX = 0.020  # the DNS plugin's `time` on loopback: the query, not dnspython's imports (~50 ms)
BLACKHOLE_TIMEOUT = 3
BLACKHOLE_MAX = 3.3  # seconds to the end of the process
RSS_MAX_MB = 45
PLUGINS_DIR = "/usr/lib/nagios/plugins"

# The commands of the throughput part: one of each plugin, and the reference plugins for the same questions.
THROUGHPUT_PLUGINS = ("dns", "register, DNS mode", "core, DNS mode")
THROUGHPUT_REFERENCES = ("check_http (register)", "check_curl (register)", "check_dig")
CHECKS_PER_PLATFORM = len(THROUGHPUT_PLUGINS)  # an admin's Pryv platform: DNS, register and core
THROUGHPUT_CHUNK = 20  # checks of one command in a row, before the next command's

# The floors, as issue 15 sets them: the libraries a plugin imports (argparse among them), nothing of its own.
# The DNS plugin hides requests while it imports dns.query, which dnspython before 2.4 (Debian 12's 2.3) would
# load with it for DNS over HTTPS (check_pryv.check_dns): so does its floor, or it would weigh some 190 modules more.
HIDE_REQUESTS = "import sys; sys.modules['requests'] = None; "
HTTP_FLOOR = "import argparse, nagiosplugin, requests"
DNS_FLOOR = HIDE_REQUESTS + "import argparse, nagiosplugin, dns.message, dns.query"
# Rounds 1 and 2 measured against floors without argparse (about 2 ms with gettext): still shown, for comparison.
STRICT_FLOORS = {"http": "import nagiosplugin, requests",
                 "dns": HIDE_REQUESTS + "import nagiosplugin, dns.message, dns.query"}


def bare_floor(python, code):
    """The command of a floor without the interpreter's teardown, which the plugins skip (os._exit)."""
    return [python, "-c", "import os; %s; os._exit(0)" % code]


# Modules (and their submodules) a plugin run must never load; tests/test_imports.py checks the same.
FORBIDDEN = {
    "http": ("dns", "check_pryv.check_dns", "check_pryv.sandbox", "check_pryv.setup", "trustme"),
    "dns": ("requests", "urllib3", "check_pryv.client", "check_pryv.sandbox", "check_pryv.setup", "trustme"),
}


# ---- the sandbox, in a process of its own ---------------------------------------------------------------

def serve_sandbox(state_dir):
    """Child mode: run the sandbox; one JSON line of its coordinates on stdout, then faults from stdin."""
    from check_pryv.sandbox import Sandbox

    with Sandbox(state_dir=state_dir) as sandbox:
        print(json.dumps({"http_port": sandbox.http_port, "dns_port": sandbox.dns_port,
                          "ca_file": sandbox.ca_file, "token_file": sandbox.token_file,
                          "domain": sandbox.domain, "hostname": sandbox.hostname,
                          "username": sandbox.username, "command_lines": sandbox.command_lines(),
                          "platform_command_lines": sandbox.platform_command_lines()}), flush=True)
        for line in sys.stdin:  # {"delay": 0.3} sets faults, {} resets; EOF stops
            faults = json.loads(line)
            if faults:
                sandbox.set_faults(**faults)
            else:
                sandbox.reset()
            print("ok", flush=True)


class SandboxProcess:
    def __init__(self, python, state_dir):
        self.process = subprocess.Popen([python, os.path.abspath(__file__), "--serve-sandbox", state_dir],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit("bench: the sandbox did not start (exit code %s)" % self.process.wait())
        self.info = json.loads(line)

    def faults(self, **faults):
        self.process.stdin.write(json.dumps(faults) + "\n")
        self.process.stdin.flush()
        if self.process.stdout.readline().strip() != "ok":
            raise SystemExit("bench: the sandbox refused the faults %r" % faults)

    def stop(self):
        self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# ---- the system's trust store, with the sandbox's CA in it -------------------------------------------------

SYSTEM_CERTS = "/etc/ssl/certs"


def system_store(env, state_dir, ca_file):
    """The environment of a stock Debian whose hashed store also trusts the sandbox's CA: a private copy of
    /etc/ssl/certs plus that CA, rehashed, as SSL_CERT_DIR; SSL_CERT_FILE unset (this machine may set it)."""
    store = os.path.join(state_dir, "system-certs")
    if os.path.isdir(SYSTEM_CERTS):
        shutil.copytree(SYSTEM_CERTS, store, symlinks=True)  # the hash links are relative: they stay valid
    else:
        note("%s does not exist: the store holds the sandbox's CA alone" % SYSTEM_CERTS)
        os.mkdir(store)
    shutil.copy(ca_file, os.path.join(store, "check-pryv-sandbox-ca.pem"))
    openssl = shutil.which("openssl")
    if not openssl:
        raise RuntimeError("openssl is not installed (apt-get install openssl): it hashes the trust store")
    done = subprocess.run([openssl, "rehash", store], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError("openssl rehash %s failed: %s" % (store, done.stderr.strip()[-300:]))
    env = {k: v for k, v in env.items() if k != "SSL_CERT_FILE"}
    env["SSL_CERT_DIR"] = store
    return env


def without_ca_cert(argv):
    """A sandbox command line that trusts the system's store instead of the sandbox's --ca-cert."""
    if "--ca-cert" not in argv:
        return argv
    index = argv.index("--ca-cert")
    return argv[:index] + argv[index + 2:]


# ---- black holes -------------------------------------------------------------------------------------------

class BlackHoles:
    """Ports on 127.0.0.1 that never answer; they only hold sockets, so they cost no CPU here."""

    def __init__(self):
        # The kernel completes the handshakes, nobody accepts or reads. Each run leaves its connection in
        # the queue: a deep one, so that it never fills up (and turns into the next black hole).
        self.silent = socket.socket()
        self.silent.bind(("127.0.0.1", 0))
        self.silent.listen(socket.SOMAXCONN)
        # A full accept queue: the kernel drops further SYNs, connect() never completes.
        self.full = socket.socket()
        self.full.bind(("127.0.0.1", 0))
        self.full.listen(0)
        self.fillers = []
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(self.full.getsockname())
            self.fillers.append(filler)
        time.sleep(0.2)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))

    def port(self, name):
        return getattr(self, name).getsockname()[1]

    def close(self):
        for sock in [self.silent, self.full, self.udp, *self.fillers]:
            sock.close()


# ---- measuring -----------------------------------------------------------------------------------------------

class Run:
    __slots__ = ("wall", "rss_kb", "inherited", "code", "stdout", "stderr", "cpu", "neighbours")

    def __init__(self, wall, rss_kb, code, stdout, stderr, inherited=False, cpu=0.0):
        self.wall, self.rss_kb, self.code, self.stdout, self.stderr = wall, rss_kb, code, stdout, stderr
        self.inherited = inherited  # rss_kb is only the benchmark's own, which a child's account starts from
        self.cpu = cpu  # user + system seconds of the process, from wait4
        self.neighbours = {}  # a plugin's run: the wall times of its floors' runs right next to it, by floor key


def run_once(argv, env, limit=60):
    """Run argv to its end: wall time (spawn to reaped), peak RSS from wait4, exit code, output."""
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors, env=env)
        killer = threading.Timer(limit, process.kill)
        killer.start()
        stdout = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        killer.cancel()
        process.stdout.close()
        process.returncode = code = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        errors.seek(0)
        # Linux counts in a child's max RSS the memory of the process it was spawned from (ours, until
        # exec): a figure not above ours says only "at most ours".
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return Run(wall, max(usage.ru_maxrss, own), code, stdout.decode("utf-8", "replace"),
                   errors.read().decode("utf-8", "replace"), inherited=usage.ru_maxrss <= own,
                   cpu=usage.ru_utime + usage.ru_stime)


class Case:
    """One command measured N times; `ok(run)` says whether a run did what it should."""

    def __init__(self, key, label, argv, group, floor=None, ok=None, plugin=False):
        self.key, self.label, self.argv, self.group, self.floor = key, label, argv, group, floor
        self.ok = ok or (lambda run: run.code == 0)
        self.plugin = plugin
        self.runs = []
        self.failures = []
        self.hyperfine = None
        self.bare = None  # the floor without the interpreter's teardown
        self.strict = None  # the bare floor without argparse, as rounds 1 and 2 measured it

    def record(self, run):
        (self.runs if self.ok(run) else self.failures).append(run)

    def walls(self):
        return [r.wall for r in self.runs]

    def median(self):
        return statistics.median(self.walls()) if self.runs else None

    def peak_rss(self):
        """The largest max RSS of the runs, in MB, as text ("<= N" when only the benchmark's own is known)."""
        runs = self.runs + self.failures
        if not runs:
            return ""
        peak = max(runs, key=lambda r: r.rss_kb)
        return ("<= %.1f" if peak.inherited else "%.1f") % (peak.rss_kb / 1024)

    def peak_rss_mb(self):
        return max(r.rss_kb for r in self.runs + self.failures) / 1024

    def paired_ratio(self, floor):
        """The median, over this case's runs, of a run's wall time over that of the run of `floor` right next to
        it (both successful)."""
        ratios = [r.wall / r.neighbours[floor.key] for r in self.runs if floor.key in r.neighbours]
        return statistics.median(ratios) if ratios else None

    def neighbour_floors(self):
        """The floors each run of this case is paired with, run right before or after it."""
        return [floor for floor in (self.bare, self.strict) if floor is not None]


def measure(cases, runs, warmup, env, seed=1):
    """Round-robin over the cases, shuffled each round; the warm-up rounds are not kept.

    A plugin runs right before or after a run of its bare floor, so that the pair sees the same moment of the
    machine: on a shared host, a slow spell lasts a few hundred ms and would otherwise fall on one side of a
    pair. A run of the bare floor without argparse comes before or after that pair (those floor runs count
    among the floors' own runs too)."""
    order = list(cases)
    rng = random.Random(seed)
    for round_ in range(warmup + runs):
        rng.shuffle(order)
        for case in order:
            # the case and its bare floor (the target's pair) always side by side, in either order; the floor
            # without argparse (not a target) before or after that pair
            floors = case.neighbour_floors()
            group = [case, *floors[:1]]
            rng.shuffle(group)
            group += floors[1:]
            if rng.random() < 0.5:
                group.reverse()
            done = {}
            for member in group:
                done[member] = run = run_once(member.argv, env)
                if round_ >= warmup:
                    member.record(run)
                elif not member.ok(run) and round_ == 0:
                    note("warm-up: %s did not succeed (exit %d): %s %s" % (
                        member.label, run.code, run.stdout.strip()[:200], run.stderr.strip()[-300:]))
            done[case].neighbours = {floor.key: done[floor].wall for floor in floors
                                     if floor.ok(done[floor])}


def hyperfine_medians(cases, runs, warmup, env):
    """Cross-check with hyperfine (no shell), one command after the other."""
    hyperfine = shutil.which("hyperfine")
    if not hyperfine:
        return False
    with tempfile.TemporaryDirectory() as scratch:
        export = os.path.join(scratch, "hyperfine.json")
        command = [hyperfine, "--shell=none", "--style", "none", "--warmup", str(warmup), "--runs", str(runs),
                   "--export-json", export, *[shlex.join(case.argv) for case in cases]]
        done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, env=env)
        if done.returncode != 0:
            note("hyperfine failed: %s" % done.stderr.strip()[-300:])
            return False
        with open(export) as stream:
            for case, result in zip(cases, json.load(stream)["results"]):
                case.hyperfine = result["median"]
    return True


class Throughput:
    """One command run `checks` times by `concurrency` workers at once, as a checker schedules plugins, in
    chunks (run() runs one)."""

    def __init__(self, case, concurrency, checks):
        self.case, self.concurrency, self.checks = case, concurrency, checks
        self.wall, self.floor = 0.0, None

    def run(self, env, checks):
        left, lock = [checks], threading.Lock()

        def worker():
            while True:
                with lock:
                    if not left[0]:
                        return
                    left[0] -= 1
                self.case.record(run_once(self.case.argv, env))

        workers = [threading.Thread(target=worker) for _ in range(self.concurrency)]
        started = time.perf_counter()
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()
        self.wall += time.perf_counter() - started

    def per_minute(self):
        return len(self.case.runs) / self.wall * 60

    def cpu_per_check(self):
        """CPU seconds (user + system) of one check, the mean over all runs, failed ones included."""
        runs = self.case.runs + self.case.failures
        return sum(r.cpu for r in runs) / len(runs)


PERF_TIME = re.compile(r"(?:^|\s|\|)'?time'?=([0-9.]+)s")


def perf_time(run):
    found = PERF_TIME.search(run.stdout.split("|", 1)[1] if "|" in run.stdout else "")
    return float(found.group(1)) if found else None


def imports_beyond(python, floor_code, argv, env):
    """Modules the plugin run loads beyond its floor's, from -X importtime of both."""
    def modules(command):
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env)
        rows = [line[len("import time:"):].split("|") for line in done.stderr.splitlines()
                if line.startswith("import time:")]
        return {row[2].strip() for row in rows if len(row) == 3 and row[0].strip().isdigit()}
    floor = modules([python, "-X", "importtime", "-c", floor_code])
    return sorted(modules([python, "-X", "importtime", *argv]) - floor)


# ---- reporting ---------------------------------------------------------------------------------------------

NOTES = []


def note(text):
    NOTES.append(text)
    print("bench: " + text, file=sys.stderr, flush=True)


def ms(seconds):
    return "" if seconds is None else "%.1f" % (seconds * 1000)


def table(rows, header):
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    rule = "  ".join("=" * width for width in widths)
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([rule, line(header), rule, *[line(row) for row in rows], rule])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", default=sys.executable,
                        help="the virtualenv's python, whose bin/ holds the plugins (default: this one, %(default)s)")
    parser.add_argument("--runs", type=int, default=20, help="measured runs of each command (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured runs first (default: %(default)s)")
    parser.add_argument("--blackhole-runs", type=int, default=None,
                        help="runs of each black-hole case, about 3 s each (default: --runs)")
    parser.add_argument("--no-hyperfine", action="store_true", help="skip the hyperfine cross-check")
    parser.add_argument("--concurrency", type=int, default=2 * (os.cpu_count() or 1),
                        help="plugin processes at once in the throughput part (default: twice the CPUs, %(default)s)")
    parser.add_argument("--checks", type=int, default=None,
                        help="checks of each command in the throughput part (default: 10 x --runs)")
    parser.add_argument("--json", metavar="FILE", help="also write every run's figures to FILE")
    parser.add_argument("--serve-sandbox", metavar="STATE_DIR", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_sandbox:
        return serve_sandbox(args.serve_sandbox)
    if args.runs < 20:
        note("--runs %d: the targets call for medians over at least 20 runs" % args.runs)
    blackhole_runs = args.blackhole_runs or args.runs

    python = os.path.abspath(args.python)  # a venv's bin/python is a symlink: keep the venv's path
    bindir = os.path.dirname(python)
    env = {k: v for k, v in os.environ.items() if k != "PRYV_ACCESS_TOKEN"}
    probe = subprocess.run([python, "-c", "import sys, check_pryv, nagiosplugin, requests, dns.version; "
                            "print(sys.version.split()[0], check_pryv.__version__, nagiosplugin.__version__, "
                            "requests.__version__, dns.version.version, check_pryv.__path__[0])"],
                           capture_output=True, text=True, env=env, cwd="/")  # not the check_pryv of the cwd
    if probe.returncode != 0:
        print("bench: %s cannot import check_pryv and its libraries:\n%s" % (python, probe.stderr), file=sys.stderr)
        return 2
    py_version, version, np_version, rq_version, dns_version, package_dir = probe.stdout.split()
    # What pip does at install time: without bytecode each run would compile check_pryv's modules again
    # (PYTHONDONTWRITEBYTECODE, an editable install in a read-only tree).
    subprocess.run([python, "-m", "compileall", "-q", package_dir], check=True, env=env)

    state_dir = tempfile.mkdtemp(prefix="check-pryv-bench-")
    sandbox = SandboxProcess(python, state_dir)
    holes = BlackHoles()
    try:
        try:
            env = system_store(env, state_dir, sandbox.info["ca_file"])
        except (RuntimeError, OSError) as error:
            print("bench: %s" % error, file=sys.stderr)
            return 2
        return benchmark(args, python, bindir, env, sandbox, holes, blackhole_runs,
                         (py_version, version, np_version, rq_version, dns_version))
    finally:
        holes.close()
        sandbox.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


def benchmark(args, python, bindir, env, sandbox, holes, blackhole_runs, versions):
    info = sandbox.info
    started = time.time()
    load = os.getloadavg()[0]
    if load > 0.5 * (os.cpu_count() or 1):
        note("load average %.2f at start: another job shares the CPUs, the figures will be noisy" % load)

    # -- start-up: floors, plugins, references
    floors = {
        "python": Case("python", "python -c pass", [python, "-c", "pass"], "floor"),
        "http": Case("floor-http", "floor HTTP: " + HTTP_FLOOR, [python, "-c", HTTP_FLOOR], "floor"),
        "dns": Case("floor-dns", "floor DNS: " + DNS_FLOOR, [python, "-c", DNS_FLOOR], "floor"),
    }
    # The same imports without the interpreter's teardown, which the plugins skip (os._exit once the result
    # is out): what the plugins' own work costs, seen without that saving.
    bare = {key: Case("bare-" + key, "bare floor %s: the same, then os._exit(0)" % key.upper(),
                      bare_floor(python, code), "floor")
            for key, code in (("http", HTTP_FLOOR), ("dns", DNS_FLOOR))}
    strict = {key: Case("strict-" + key, "bare floor %s without argparse: %s, then os._exit(0)" % (key.upper(), code),
                        bare_floor(python, code), "floor")
              for key, code in STRICT_FLOORS.items()}
    # The A/A control: the HTTP bare floor paired with runs of itself, as a plugin is. Nothing tells the two apart,
    # so its paired ratio's distance from 1.000 is the noise of this run's paired medians.
    control = Case("control-http", "control: bare floor HTTP again, paired with the bare floor",
                   bare_floor(python, HTTP_FLOOR), "control")
    control.bare = bare["http"]
    plugin_ok = lambda run: run.code == 0 and " OK - " in run.stdout  # noqa: E731
    plugins = []
    for label, argv in info["command_lines"]:
        kind = "dns" if argv[0] == "check_pryv_dns" else "http"
        script = os.path.join(bindir, argv[0])
        plugins.append(Case(label, "%s (%s)" % (argv[0], label) if label != "dns" else argv[0],
                            [script, *without_ca_cert(argv[1:])], "plugin", floors[kind], plugin_ok, plugin=True))
        plugins[-1].bare, plugins[-1].strict = bare[kind], strict[kind]
    references = []
    port, dns_port = str(info["http_port"]), str(info["dns_port"])
    register_host, core_host = "reg." + info["domain"], "%s.%s" % (info["username"], info["domain"])
    with open(info["token_file"]) as stream:
        token = stream.read().strip()
    header_file = os.path.join(os.path.dirname(info["token_file"]), "curl-headers")
    with open(os.open(header_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as stream:
        stream.write("Authorization: %s\n" % token)
    check_http = os.path.join(PLUGINS_DIR, "check_http")
    check_curl = os.path.join(PLUGINS_DIR, "check_curl")
    check_dig = os.path.join(PLUGINS_DIR, "check_dig")
    register_path = "/%s/check_username" % info["username"]
    candidates = [
        ("check_http", "check_http (register)", [check_http, "-H", register_host, "-I", "127.0.0.1", "-p", port,
                                                 "-S", "--sni", "-u", register_path]),
        ("check_curl", "check_curl (register)", [check_curl, "-H", register_host, "-I", "127.0.0.1", "-p", port,
                                                 "-S", "--sni", "--ca-cert", info["ca_file"], "-u", register_path]),
        ("check_dig", "check_dig", [check_dig, "-H", "127.0.0.1", "-p", dns_port, "-l", core_host]),
        ("curl", "curl (register, the guide's)", ["curl", "-sS", "-o", "/dev/null", "--fail", "--cacert",
                                                   info["ca_file"], "--resolve",
                                                   "%s:%s:127.0.0.1" % (register_host, port),
                                                   "https://%s:%s%s" % (register_host, port, register_path)]),
        ("curl", "curl (core, the guide's)", ["curl", "-sS", "-o", "/dev/null", "--fail", "--cacert",
                                              info["ca_file"], "--resolve", "%s:%s:127.0.0.1" % (core_host, port),
                                              "-H", "@" + header_file,
                                              "https://%s:%s/events?limit=1" % (core_host, port)]),
        ("dig", "dig (the guide's)", ["dig", "@127.0.0.1", "-p", dns_port, "+tries=1", "+time=2", core_host]),
    ]
    for tool, label, argv in candidates:
        path = argv[0] if os.path.isabs(argv[0]) else shutil.which(argv[0])
        if not path or not os.access(path, os.X_OK):
            note("%s is not installed: no reference row for it" % tool)
            continue
        case = Case(label, label, [path, *argv[1:]], "reference")
        trial = run_once(case.argv, env)
        if trial.code != 0:  # installed but unusable (a missing library, say): say so, measure the rest
            output = (trial.stdout + trial.stderr).strip()[:200]
            note("%s does not run here (exit %d): %s" % (label, trial.code, output))
            continue
        references.append(case)

    startup = [*floors.values(), *bare.values(), *strict.values(), control, *plugins, *references]
    print("bench: start-up, %d commands x %d runs (+%d warm-up), interleaved..." % (
        len(startup), args.runs, args.warmup), file=sys.stderr, flush=True)
    measure(startup, args.runs, args.warmup, env)
    hyperfine = False
    if not args.no_hyperfine:
        print("bench: hyperfine cross-check...", file=sys.stderr, flush=True)
        hyperfine = hyperfine_medians([*floors.values(), *plugins], args.runs, args.warmup, env)

    # -- throughput: many checks at once, as a checker runs them on a loaded monitoring server
    chosen = [*bare.values(), *(c for c in plugins if c.key in THROUGHPUT_PLUGINS)]
    chosen += [c for c in references if c.key in THROUGHPUT_REFERENCES]
    checks = args.checks or 10 * args.runs
    loads = [Throughput(Case(c.key, c.label, c.argv, "throughput", ok=c.ok, plugin=c.plugin), args.concurrency,
                        checks) for c in chosen]
    for load_case, case in zip(loads, chosen):  # a plugin's CPU is also read against its floor's, under the same load
        load_case.floor = next((t for t in loads if case.bare and t.case.key == case.bare.key), None)
    print("bench: throughput, %d commands x %d checks, %d at once, in chunks of %d..." % (
        len(loads), checks, args.concurrency, THROUGHPUT_CHUNK), file=sys.stderr, flush=True)
    # in chunks, round-robin over the commands: a slow spell of the host falls on a plugin and its floor alike
    for done in range(0, checks, THROUGHPUT_CHUNK):
        for load_case in loads:
            load_case.run(env, min(THROUGHPUT_CHUNK, checks - done))

    # -- `time` perfdata under a 0.3 s delay (HTTP plugins), and the DNS plugin's own
    http_plugins = [c for c in plugins if c.floor is floors["http"]]
    delayed = [Case(c.key, c.label, c.argv, "delayed", ok=plugin_ok, plugin=True) for c in http_plugins]
    print("bench: `time` under a %.1f s delay, %d commands x %d runs..." % (DELAY, len(delayed), args.runs),
          file=sys.stderr, flush=True)
    sandbox.faults(delay=DELAY)
    try:
        measure(delayed, args.runs, 1, env)
    finally:
        sandbox.faults()

    # -- black holes
    script = {c.argv[0].rsplit("/", 1)[-1]: c.argv[0] for c in plugins}
    out_of_time = lambda run: run.code == 2 and " CRITICAL - " in run.stdout  # noqa: E731
    limit = ["--timeout", str(BLACKHOLE_TIMEOUT)]
    holes_cases = [
        Case("bh-accepting", "check_pryv_register, port that accepts and never answers",
             [script["check_pryv_register"], "--domain", info["domain"], "--address", "127.0.0.1",
              "--port", str(holes.port("silent")), "--ca-cert", info["ca_file"], *limit], "blackhole", ok=out_of_time),
        Case("bh-handshake", "check_pryv_core, port whose TCP handshake never completes",
             [script["check_pryv_core"], "--domain", info["domain"], "--address", "127.0.0.1",
              "--port", str(holes.port("full")), "--ca-cert", info["ca_file"], "--token-file", info["token_file"],
              *limit], "blackhole", ok=out_of_time),
        Case("bh-udp", "check_pryv_dns, UDP port that never answers",
             [script["check_pryv_dns"], "--domain", info["domain"], "--server", "127.0.0.1",
              "--port", str(holes.port("udp")), *limit], "blackhole", ok=out_of_time),
    ]
    print("bench: black holes, %d commands x %d runs of about %d s..." % (
        len(holes_cases), blackhole_runs, BLACKHOLE_TIMEOUT), file=sys.stderr, flush=True)
    measure(holes_cases, blackhole_runs, 0, env)

    # -- imports beyond the floor (structure, from -X importtime)
    extra_imports = {}
    for case in plugins:
        kind = "dns" if case.floor is floors["dns"] else "http"
        extra_imports[case.label] = imports_beyond(python, DNS_FLOOR if kind == "dns" else HTTP_FLOOR, case.argv, env)
        bad = [m for m in extra_imports[case.label] if any(m == f or m.startswith(f + ".") for f in FORBIDDEN[kind])]
        if bad:
            case.failures.append(Run(0, 0, -1, "forbidden imports: %s" % ", ".join(bad), ""))

    all_floors = [*floors.values(), *bare.values(), *strict.values(), control]
    if args.json:
        with open(args.json, "w") as stream:
            json.dump([{"label": case.label, "group": case.group, "argv": case.argv, "hyperfine_median": case.hyperfine,
                        "runs": [{"wall": r.wall, "rss_kb": r.rss_kb, "code": r.code, "stdout": r.stdout}
                                 for r in case.runs],
                        "failures": [{"wall": r.wall, "code": r.code, "stdout": r.stdout, "stderr": r.stderr}
                                     for r in case.failures],
                        "cpu": [r.cpu for r in case.runs + case.failures]}
                       for case in [*all_floors, *plugins, *references, *delayed, *holes_cases,
                                    *(t.case for t in loads)]], stream, indent=1)
    return report(args, python, versions, load, started, all_floors, plugins, references, delayed, holes_cases,
                  extra_imports, hyperfine, loads)


def report(args, python, versions, load, started, floors, plugins, references, delayed, holes_cases,
           extra_imports, hyperfine, loads):
    missed = []

    def verdict(ok, what):
        if not ok:
            missed.append(what)
        return "met" if ok else "MISSED"

    def failures(case):
        if case.failures:
            first = case.failures[0]
            missed.append("%s: %d run(s) failed" % (case.label, len(case.failures)))
            note("%s: %d of %d runs failed, first: exit %d %s %s" % (
                case.label, len(case.failures), len(case.failures) + len(case.runs), first.code,
                first.stdout.strip()[:200], first.stderr.strip()[-200:]))

    header = ["what", "median ms", "min ms", "max ms", "to floor", "to bare floor", "paired", "peak RSS MB",
              "target", "result"]
    if hyperfine:
        header.insert(4, "hyperfine")
    rows = []

    def startup_row(case, target="", result=""):
        ratio = "%.3f" % (case.median() / case.floor.median()) if case.floor and case.runs else ""
        bare = "%.3f" % (case.median() / case.bare.median()) if case.bare and case.runs else ""
        paired = case.paired_ratio(case.bare) if case.bare else None
        row = [case.label, ms(case.median()), ms(min(case.walls(), default=None)),
               ms(max(case.walls(), default=None)), ratio, bare, "" if paired is None else "%.3f" % paired,
               case.peak_rss(), target, result]
        if hyperfine:
            row.insert(4, ms(case.hyperfine))
        return row

    for case in [*floors, *plugins, *references]:
        failures(case)
        if case.plugin:
            paired = case.paired_ratio(case.bare)
            ratio_ok = paired is not None and paired <= TARGET_RATIO
            rss_ok = bool(case.runs) and case.peak_rss_mb() <= RSS_MAX_MB
            rows.append(startup_row(case, "paired <= %.2fx, <= %d MB" % (TARGET_RATIO, RSS_MAX_MB),
                                    verdict(ratio_ok and rss_ok and not case.failures, case.label + " start-up")))
        else:
            rows.append(startup_row(case, {"floor": "floor", "control": "control (A/A)"}.get(case.group, "reference")))

    # `time` perfdata rows: figures are the reported time, not the wall time.
    time_rows = []
    low, high = TIME_RANGE
    for case in delayed:
        failures(case)
        reported = [t for t in (perf_time(r) for r in case.runs) if t is not None]
        med = statistics.median(reported) if reported else None
        walls = case.walls()
        ok = med is not None and low <= med <= high and len(reported) == len(case.runs) and not case.failures
        time_rows.append([case.label, ms(med), ms(min(reported, default=None)), ms(max(reported, default=None)),
                          ms(statistics.median(walls)) if walls else "",
                          "%.3f..%.3f s" % TIME_RANGE, verdict(ok, case.label + " time perfdata")])
    dns_case = next(c for c in plugins if c.floor.key == "floor-dns")
    reported = [t for t in (perf_time(r) for r in dns_case.runs) if t is not None]
    med = statistics.median(reported) if reported else None
    time_rows.append([dns_case.label + " (no delay)", ms(med), ms(min(reported, default=None)),
                      ms(max(reported, default=None)), ms(dns_case.median()), "<= %.3f s" % DNS_TIME_MAX,
                      verdict(med is not None and med <= DNS_TIME_MAX, "check_pryv_dns time perfdata")])

    load_rows = []
    for load_case in loads:
        failures(load_case.case)
        cpu = load_case.cpu_per_check()
        own = "%+.1f" % ((cpu - load_case.floor.cpu_per_check()) * 1000) if load_case.floor else ""
        load_rows.append([load_case.case.label, str(load_case.concurrency), str(load_case.checks),
                          "%.1f" % load_case.wall, "%.0f" % load_case.per_minute(), ms(cpu), own,
                          "%.0f" % (60 / cpu)])
    ours = [t.cpu_per_check() for t in loads if t.case.plugin]

    hole_rows = []
    for case in holes_cases:
        failures(case)
        walls = case.walls()
        ok = bool(walls) and max(walls) <= BLACKHOLE_MAX and not case.failures
        hole_rows.append([case.label, ms(statistics.median(walls)) if walls else "", ms(min(walls, default=None)),
                          ms(max(walls, default=None)), case.peak_rss(),
                          "every run <= %.1f s" % BLACKHOLE_MAX, verdict(ok, case.label)])

    elapsed = time.time() - started
    print()
    print("check_pryv %s, Python %s, nagiosplugin %s, requests %s, dnspython %s; %s, %d CPUs, load %.2f at start"
          % (versions[1], versions[0], versions[2], versions[3], versions[4], platform.platform(terse=True),
             os.cpu_count(), load))
    print("$ %s" % shlex.join([os.path.relpath(python) if python.startswith(os.getcwd()) else python,
                               os.path.relpath(os.path.abspath(__file__)), *(argv_shown(args))]))
    print()
    print("Start-up: whole process against the sandbox, %d runs each, interleaved (wall time, spawn to exit)"
          % args.runs)
    print()
    print(table(rows, header))
    print("to floor, to bare floor: median over the median of the plugin's floor, and of that floor without the")
    print("interpreter's teardown (os._exit). paired: the median of the ratios to the bare floor's run right")
    print("next to each run, the target."
          + (" hyperfine: its median for the same command, a cross-check." if hyperfine else ""))
    control = next((case for case in floors if case.group == "control"), None)
    if control is not None and control.paired_ratio(control.bare) is not None:
        print(textwrap.fill("control (A/A): the bare HTTP floor paired with runs of itself, as a plugin is: %.3f. "
                            "Nothing tells the two apart: its distance from 1.000 is this run's noise."
                            % control.paired_ratio(control.bare), 110))
    # what a run waits for (an HTTP plugin: the sandbox's side of the handshake and its answer), from wait4
    off_cpu = [(case.label.split(":")[0], statistics.median(r.wall - r.cpu for r in case.runs) * 1000)
               for case in [*floors, *plugins] if case.key in ("bare-http", "bare-dns") or case.plugin and case.runs]
    print(textwrap.fill("Time off the CPU in ms (wall time minus user and system time, median): %s."
                        % "; ".join("%s %.2f" % pair for pair in off_cpu), 110))
    stricter = []
    for case in plugins:
        ratio = case.paired_ratio(case.strict)
        stricter.append("%s %s" % (case.label, "-" if ratio is None else "%.3f" % ratio))
    print(textwrap.fill("Paired against the bare floors without argparse (rounds 1 and 2), not a target: "
                        + "; ".join(stricter) + ".", 110))
    print()
    print("`time` perfdata: reported by the plugin (median, min, max), sandbox delay %.1f s for HTTP; "
          "wall = median process time" % DELAY)
    print()
    print(table(time_rows, ["what", "median ms", "min ms", "max ms", "wall ms", "target", "result"]))
    print()
    print("Throughput: %d checks of each command, %d processes at once on %d CPUs (the sandbox on the same CPUs), "
          "in chunks of %d, round-robin" % (loads[0].checks if loads else 0, args.concurrency, os.cpu_count(),
                                             THROUGHPUT_CHUNK))
    print()
    print(table(load_rows, ["what", "at once", "checks", "wall s", "checks/min", "CPU ms/check",
                            "over bare floor", "checks/min per core"]))
    print("over bare floor: the CPU ms of a check beyond that of its bare floor, run the same way.")
    if ours:
        per_core = 60 / max(ours)
        print("One CPU core sustains about %d check_pryv services at a 1-minute interval (%.0f CPU ms for the "
              "costliest check), that is %d Pryv platforms with their DNS, register and core checks."
              % (per_core, max(ours) * 1000, 60 / sum(ours)))
    print()
    print("Black holes, --timeout %d: time to the end of the process, %d runs each" % (
        BLACKHOLE_TIMEOUT, len(holes_cases[0].runs) + len(holes_cases[0].failures)))
    print()
    print(table(hole_rows, ["what", "median ms", "min ms", "max ms", "peak RSS MB", "target", "result"]))
    print()
    print("Modules loaded beyond the floor:")
    for label, modules in extra_imports.items():
        print(textwrap.fill("%s: %s" % (label, ", ".join(modules) or "none"), 110, initial_indent="  ",
                            subsequent_indent="    "))
    if NOTES:
        print()
        print("Notes:")
        for text in NOTES:
            print("  " + text)
    print()
    if missed:
        print("MISSED %d target(s) in %.0f s: %s" % (len(missed), elapsed, "; ".join(missed)))
        return 1
    print("All targets met (%.0f s)." % elapsed)
    return 0


def argv_shown(args):
    shown = ["--runs", str(args.runs)]
    if args.blackhole_runs:
        shown += ["--blackhole-runs", str(args.blackhole_runs)]
    if args.no_hyperfine:
        shown.append("--no-hyperfine")
    return shown


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up the sandbox on SIGTERM too
    sys.exit(main())
