"""What each plugin loads: only the libraries its run uses (a structural test; timings come from benchmarks/).

Every plugin start pays for each module it imports, every minute on every monitored host: the HTTP plugins
never load dnspython, the DNS plugin never loads requests, and no plugin loads the sandbox, the setup command
or trustme. Each case runs in a fresh interpreter and reports its sys.modules at exit.

It holds on both library sets CI runs: the virtualenv's newest, and Debian 12's (run with /usr/bin/python3), where
dnspython 2.3's dns.query imports requests unless check_dns hides it.
"""
import configparser
import importlib.util
import json
import os
import socket
import subprocess
import sys

import pytest

from check_pryv import check_core, start

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PLUGINS = {
    "check_pryv.check_dns": "dns",
    "check_pryv.check_register": "http",
    "check_pryv.check_core": "http",
    "check_pryv.check_platform": "platform",
}
# socket.io's client (python-socketio, engineio, websocket-client): --notifications only
SOCKETIO = ("check_pryv.notifications", "socketio", "engineio", "websocket")
NEVER = ("check_pryv.sandbox", "check_pryv.setup", "check_pryv.configtext", "trustme") + SOCKETIO
FORBIDDEN = {
    "http": NEVER + ("dns", "check_pryv.check_dns"),
    "dns": NEVER + ("requests", "urllib3", "charset_normalizer", "certifi", "check_pryv.client",
                    "check_pryv.certificate", "check_pryv.check_register", "check_pryv.check_core"),
    # every check at once: DNS-less, no dnspython (DNS mode's dns check loads it)
    "platform": NEVER + ("dns", "check_pryv.check_dns"),
}

# Runs in the child: the module's main() (or just its parser), then, as JSON on the pipe whose descriptor is argv[1]
# (also when the plugin leaves through os._exit), the modules it added to sys.modules and each regular expression
# that check_pryv's own code handed to the re module (re.match, re.sub, re.compile...: re._compile, which compiles
# it unless re's cache holds it already). What the interpreter loaded before (a site .pth file may load certifi,
# say) is the machine's, not the plugin's.
HARNESS = """
import json, os, re, sys
before = set(sys.modules)
patterns = []
compile_pattern = re._compile
def spy(pattern, flags):
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename == re.__file__:
        frame = frame.f_back
    if frame is not None and "check_pryv" in frame.f_code.co_filename:
        patterns.append("%s:%d %s" % (os.path.basename(frame.f_code.co_filename), frame.f_lineno, pattern))
    return compile_pattern(pattern, flags)
re._compile = spy
def report():
    modules = sorted(set(sys.modules) - before)
    os.write(int(sys.argv[1]), json.dumps({"modules": modules, "patterns": patterns}).encode())
exit_now = os._exit
def leave(code):
    report()
    exit_now(code)
os._exit = leave
module = __import__(sys.argv[2], fromlist=["main"])
if sys.argv[3] == "parser":
    module.make_parser()
    report()
else:
    try:
        module.main(sys.argv[4:])
    finally:
        report()
"""


def child_report(module, mode, *args):
    """What HARNESS reports from a fresh interpreter after importing `module` and building its parser, or
    running it: {"modules": [...], "patterns": [...]}, and the finished process."""
    read, write = os.pipe()
    env = dict(os.environ, PRYV_ACCESS_TOKEN="not-a-real-token")
    try:
        done = subprocess.run([sys.executable, "-c", HARNESS, str(write), module, mode, *args], pass_fds=(write,),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, timeout=30)
        os.close(write)
        write = None
        with os.fdopen(read, "rb") as stream:
            report = stream.read()
    finally:
        if write is not None:
            os.close(write)
    assert report, "no report from %s %s: exit %d\n%s%s" % (module, mode, done.returncode, done.stdout, done.stderr)
    return json.loads(report), done


def loaded(module, mode, *args):
    """The modules a fresh interpreter holds after importing `module` and building its parser, or running it."""
    report, done = child_report(module, mode, *args)
    return set(report["modules"]), done


def offenders(modules, kind):
    return sorted(m for m in modules if any(m == f or m.startswith(f + ".") for f in FORBIDDEN[kind]))


def closed_port(kind=socket.SOCK_STREAM):
    """A port on 127.0.0.1 that nothing listens on: the run fails fast, after loading all it loads."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_every_plugin_entry_point_is_checked_here():
    """A new plugin gets its line in PLUGINS (and RUNS), so that what it loads is checked too."""
    config = configparser.ConfigParser()
    config.read(os.path.join(ROOT, "setup.cfg"))
    scripts = [line.split("=", 1)[1].strip() for line in config["options.entry_points"]["console_scripts"].splitlines()
               if "=" in line]
    # the plugins' scripts go through check_pryv.start, which installs the signal handlers first
    plugins = {start.PLUGINS[target.split(":")[1]][1] for target in scripts
               if target.startswith("check_pryv.start:") and target.split(":")[1] in start.PLUGINS}
    assert len(plugins) == len([s for s in scripts if s.split(":")[1] in start.PLUGINS])
    assert plugins == set(PLUGINS) == set(RUNS)


@pytest.mark.parametrize("module", sorted(PLUGINS))
def test_plugin_module_and_parser_load_only_their_libraries(module):
    modules, _ = loaded(module, "parser")
    assert module in modules
    assert offenders(modules, PLUGINS[module]) == []


RUNS = {
    "check_pryv.check_register": ["--domain", "pryv.test", "--address", "127.0.0.1", "--port", "{tcp}",
                                  "--timeout", "2"],
    "check_pryv.check_core": ["--hostname", "localhost", "--port", "{tcp}", "--timeout", "2"],
    "check_pryv.check_dns": ["--domain", "pryv.test", "--server", "127.0.0.1", "--port", "{udp}",
                             "--timeout", "2"],
    "check_pryv.check_platform": ["--hostname", "localhost", "--port", "{tcp}", "--timeout", "2"],
}


@pytest.mark.parametrize("module", sorted(RUNS))
def test_plugin_run_loads_only_its_libraries(module):
    ports = {"tcp": closed_port(), "udp": closed_port(socket.SOCK_DGRAM)}
    modules, done = loaded(module, "run", *[arg.format(**ports) for arg in RUNS[module]])
    assert done.stdout.startswith("PRYV_"), done.stdout + done.stderr  # it did run its check
    assert offenders(modules, PLUGINS[module]) == []


@pytest.mark.skipif(importlib.util.find_spec("check_pryv.register_info") is None, reason="no register_info module")
def test_register_check_skips_the_other_register_questions():
    """check_pryv.register_info (--hostings, --service-info) and check_pryv.auth_request (--auth-request) are loaded
    only when one of them is asked."""
    modules, done = loaded("check_pryv.check_register", "run",
                           *[arg.format(tcp=closed_port()) for arg in RUNS["check_pryv.check_register"]])
    assert done.stdout.startswith("PRYV_REGISTER"), done.stdout + done.stderr
    assert "check_pryv.register_info" not in modules
    assert "check_pryv.auth_request" not in modules


@pytest.mark.parametrize("module", sorted(m for m, kind in PLUGINS.items() if kind == "http"))
def test_http_check_skips_the_certificate_reader(module):
    """check_pryv.certificate (the DER reader) is loaded only with --certificate-days, --insecure or a rejected
    certificate: a plain check of a platform never reads one."""
    modules, done = loaded(module, "run", *[arg.format(tcp=closed_port()) for arg in RUNS[module]])
    assert done.stdout.startswith("PRYV_"), done.stdout + done.stderr
    assert {"check_pryv.client", "check_pryv.probe"} <= modules
    assert "check_pryv.certificate" not in modules


# What only a platform part of check_pryv_core loads (check_core.PARTS: --write, --series...), and socket.io's client
# with its transports, which only --notifications may load.
PART_MODULES = [module for _, module in check_core.PARTS]
PART_ONLY = PART_MODULES + ["socketio", "engineio", "websocket"]
# The parts built on another's module: the series and the attachment paths are write paths on events of their own.
BUILT_ON = {"check_pryv.series": ["check_pryv.write"], "check_pryv.attachment": ["check_pryv.write"],
            "check_pryv.notifications": ["check_pryv.write", "socketio", "engineio", "websocket"]}


def part_offenders(modules, allowed=()):
    return sorted(m for m in modules if any(m == f or m.startswith(f + ".") for f in PART_ONLY if f not in allowed))


def test_core_check_skips_the_platform_parts():
    """A default core check loads no platform part, nor socket.io, engine.io or websocket."""
    modules, done = loaded("check_pryv.check_core", "run",
                           *[arg.format(tcp=closed_port()) for arg in RUNS["check_pryv.check_core"]])
    assert done.stdout.startswith("PRYV_CORE"), done.stdout + done.stderr
    assert "check_pryv.write" in PART_MODULES
    assert part_offenders(modules) == []


@pytest.mark.parametrize("option, module", check_core.PARTS)
def test_core_check_loads_a_platform_part_only_for_its_option(option, module):
    """--write loads check_pryv.write and no other part; --series check_pryv.series alone; and so on."""
    modules, done = loaded("check_pryv.check_core", "run", "--" + option,
                           *[arg.format(tcp=closed_port()) for arg in RUNS["check_pryv.check_core"]])
    assert done.stdout.startswith("PRYV_CORE CRITICAL"), done.stdout + done.stderr
    assert module in modules
    assert part_offenders(modules, allowed=[module] + BUILT_ON.get(module, [])) == []


def test_core_check_loads_socketio_with_notifications_only():
    """--notifications loads the socket.io client (NEVER keeps it out of every other run)."""
    pytest.importorskip("socketio")
    modules, done = loaded("check_pryv.check_core", "run", "--notifications",
                           *[arg.format(tcp=closed_port()) for arg in RUNS["check_pryv.check_core"]])
    assert done.stdout.startswith("PRYV_CORE CRITICAL"), done.stdout + done.stderr
    assert {"check_pryv.notifications", "check_pryv.write", "socketio", "engineio", "websocket"} <= modules


def test_dns_plugin_with_a_server_skips_the_resolver():
    """dns.resolver (resolv.conf parsing and more) is for the system's name servers only."""
    modules, done = loaded("check_pryv.check_dns", "run", "--domain", "pryv.test", "--server", "127.0.0.1",
                           "--port", str(closed_port(socket.SOCK_DGRAM)), "--timeout", "2")
    assert done.stdout.startswith("PRYV_DNS"), done.stdout + done.stderr
    assert {"dns.message", "dns.query"} <= modules
    assert "dns.resolver" not in modules


def test_a_plugin_run_compiles_no_pattern_of_its_own(sandbox):
    """A check of a healthy platform checks its names with sets of characters (check_pryv.options.is_host_name and
    its kin): compiling a pattern costs some 0.1 ms of every run, every minute (docs/performance.rst). Only a
    failure's message may use one."""
    sandbox.set_faults(hostings="all-available")  # DNS mode's hosting2 is closed to new accounts: a WARNING
    for label, argv in sandbox.command_lines() + sandbox.platform_command_lines():
        module = start.PLUGINS[argv[0].rsplit("_", 1)[1]][1]
        report, done = child_report(module, "run", *argv[1:])
        assert " OK - " in done.stdout, (label, done.stdout + done.stderr)
        assert report["patterns"] == [], label
