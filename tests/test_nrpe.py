"""NRPE: the shipped nrpe.d file (nrpe/pryv.cfg), run by a real nrpe daemon and called by check_nrpe.

The test takes the command lines of nrpe/pryv.cfg (the DNS-mode ones, and the commented-out DNS-less ones
under the names check_pryv_*_dnsless), keeps their options, and points them at the sandbox: the plugin
directory, the platform's name, the token file, plus the sandbox's connection options. A real nrpe on a
loopback port runs them for check_nrpe: OK each; then the sandbox rejects the token and check_pryv_core
answers CRITICAL through NRPE.

NRPE refuses to run as root (it exits when its effective uid or gid is 0). So:

- run by an unprivileged user, the test starts nrpe as that user, its files in pytest's tmp_path;
- run by root, it starts nrpe in a user namespace (``unshare --user``) as ``nobody``: outside the
  namespace its files are still root's, so nrpe and the plugins reach the venv and tmp_path (mode 0700)
  as the test does, without root's privileges;
- run by root where user namespaces are not allowed (a container's seccomp profile, say), nrpe drops to
  the ``nagios`` user as in production. That user cannot enter pytest's tmp_path: its files (config, log,
  copies of the sandbox's CA and token) then go to a private directory of its own under the system's
  temporary directory, removed at the end.

Without nrpe or check_nrpe, or when no way above works, these tests skip, unless
CHECK_PRYV_REQUIRE_DAEMONS=1 (CI) makes them fail.
"""
import grp
import os
import pwd
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import cannot, dns_mode_args, dnsless_args, plugin_path, require_binary
from daemons import Daemon, free_ports

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "nrpe" / "pryv.cfg"
CHECK_NRPE = "/usr/lib/nagios/plugins/check_nrpe"
SHIPPED_PLUGIN_DIR = "/usr/lib/nagios/plugins"  # the .deb's
SHIPPED_DOMAIN, SHIPPED_HOSTNAME = "pryv.example.com", "pryv.example.org"
DEADLINE = 30
WORDS = {"check_pryv_dns": "PRYV_DNS", "check_pryv_register": "PRYV_REGISTER", "check_pryv_core": "PRYV_CORE",
         "check_pryv_platform": "PRYV_PLATFORM"}
WITH_TOKEN = {"check_pryv_core", "check_pryv_platform"}


def shipped_commands():
    """[(name, argv, active)] of the command[...] lines, the commented-out (DNS-less) ones included."""
    found = []
    for line in SHIPPED.read_text().splitlines():
        match = re.match(r"^(#?)command\[(\w+)\]=(.*)$", line)
        if match:
            found.append((match.group(2), shlex.split(match.group(3)), not match.group(1)))
    return found


def test_shipped_file_has_the_three_commands_and_the_platform():
    commands = shipped_commands()
    active = {name for name, _, on in commands if on}
    assert active == {"check_pryv_dns", "check_pryv_register", "check_pryv_core", "check_pryv_platform"}
    assert {name for name, _, on in commands if not on} == {"check_pryv_register", "check_pryv_core",
                                                            "check_pryv_platform"}
    for name, argv, on in commands:
        assert argv[0] == "%s/%s" % (SHIPPED_PLUGIN_DIR, name), argv  # a full path: NRPE has no $USER1$
        assert "--token" not in argv, "the token would show in ps"
        assert ("--token-file" in argv) == (name in WITH_TOKEN), argv
        assert ("--domain" in argv) == on and ("--hostname" in argv) == (not on), argv
        assert not any("$" in a for a in argv), "Debian's NRPE takes no arguments: %s" % argv


def replace_value(argv, option, value):
    i = argv.index(option)
    return argv[:i + 1] + [value] + argv[i + 2:]


def sandbox_commands(sb, plugin_dir, files):
    """{nrpe command name: argv}: the shipped lines aimed at the sandbox; `files` maps the sandbox's
    CA and token files to the copies nrpe's user reads."""
    user = ["--username", sb.username]
    commands = {}
    for name, argv, dns_mode in shipped_commands():
        argv = [os.path.join(plugin_dir, name)] + argv[1:]
        if "--token-file" in argv:
            argv = replace_value(argv, "--token-file", sb.token_file)
        if dns_mode:
            assert argv[argv.index("--domain") + 1] == SHIPPED_DOMAIN
            argv = replace_value(argv, "--domain", sb.domain)
            if name == "check_pryv_dns":
                argv += ["--server", "127.0.0.1", "--port", str(sb.dns_port)] + user
            else:
                connection = dns_mode_args(sb)
                argv += connection[connection.index("--domain") + 2:] + user
                if name == "check_pryv_platform":  # its dns check asks the sandbox's DNS
                    argv += ["--dns-server", "127.0.0.1", "--dns-port", str(sb.dns_port)]
            commands[name] = argv
        else:
            assert argv[argv.index("--hostname") + 1] == SHIPPED_HOSTNAME
            argv = replace_value(argv, "--hostname", sb.hostname)
            connection = dnsless_args(sb)
            argv += connection[connection.index("--hostname") + 2:] + user
            commands[name + "_dnsless"] = argv
    return {name: [files.get(a, a) for a in argv] for name, argv in commands.items()}


class RunAs:
    """How to start nrpe as a user other than root (see the module's docstring)."""

    def __init__(self, tmp_path_factory, plugin):
        self.prefix, self.user, self.private_dir = [], None, None
        if os.geteuid() != 0 and os.getegid() != 0:
            self.work = tmp_path_factory.mktemp("nrpe")
            return
        unshare = shutil.which("unshare")
        if unshare:
            prefix = [unshare, "--user", "--map-user=65534", "--map-group=65534"]
            probe = subprocess.run(prefix + ["id", "-u"], capture_output=True, text=True, timeout=30)
            if probe.returncode == 0 and probe.stdout.strip() == "65534":
                self.prefix = prefix
                self.work = tmp_path_factory.mktemp("nrpe")
                return
        try:
            self.user = pwd.getpwnam("nagios")
        except KeyError:
            cannot("nrpe refuses to run as root; user namespaces are not available and there is no nagios user")
        probe = subprocess.run([plugin, "--version"], capture_output=True, text=True, timeout=30,
                               user=self.user.pw_uid, group=self.user.pw_gid, extra_groups=[],
                               stdin=subprocess.DEVNULL, cwd="/")
        if "check_pryv" not in probe.stdout:
            cannot("nrpe refuses to run as root; user namespaces are not available, and the nagios user "
                   "cannot run %s (%s): make the virtualenv readable by all, or run the tests as an "
                   "unprivileged user" % (plugin, (probe.stdout + probe.stderr).strip()))
        self.private_dir = Path(tempfile.mkdtemp(prefix="check_pryv-nrpe-"))  # mode 0700
        os.chown(self.private_dir, self.user.pw_uid, self.user.pw_gid)
        self.work = self.private_dir

    def config_lines(self):
        if self.user:
            return ["nrpe_user=%s" % self.user.pw_name, "nrpe_group=%s" % grp.getgrgid(self.user.pw_gid).gr_name]
        return []  # nrpe stays the unprivileged user it is started as

    def give(self, path, mode):
        path.chmod(mode)
        if self.user:
            os.chown(path, self.user.pw_uid, self.user.pw_gid)

    def cleanup(self):
        if self.private_dir:
            shutil.rmtree(self.private_dir, ignore_errors=True)


class Nrpe(Daemon):
    logs = ("daemon.log", "nrpe.log")

    def __init__(self, binary, check_nrpe, run_as, sb, plugin_dir):
        self.binary, self.check_nrpe, self.run_as = binary, check_nrpe, run_as
        self.work = work = run_as.work
        self.port, = free_ports(1)
        files = {}
        for source, name, mode in ((sb.ca_file, "ca.pem", 0o644), (sb.token_file, "token", 0o600)):
            if source:
                shutil.copy(source, work / name)
                run_as.give(work / name, mode)
                files[source] = str(work / name)
        self.commands = sandbox_commands(sb, plugin_dir, files)
        commands_file = work / "pryv.cfg"
        commands_file.write_text("".join("command[%s]=%s\n" % (name, " ".join(shlex.quote(a) for a in argv))
                                         for name, argv in self.commands.items()))
        self.conf = work / "nrpe.cfg"
        self.conf.write_text("\n".join([
            "log_facility=daemon",
            "log_file=%s" % (work / "nrpe.log"),
            "debug=1",
            "pid_file=%s" % (work / "nrpe.pid"),
            "server_address=127.0.0.1",
            "server_port=%d" % self.port,
            *run_as.config_lines(),
            "allowed_hosts=127.0.0.1",
            "dont_blame_nrpe=0",
            "allow_bash_command_substitution=0",
            "command_timeout=60",
            "connection_timeout=60",
            "include=%s" % commands_file,
            "",
        ]))
        for path in (commands_file, self.conf):
            run_as.give(path, 0o644)

    def start(self):
        self.spawn(self.run_as.prefix + [self.binary, "-c", str(self.conf), "-f"])
        end = time.monotonic() + DEADLINE
        while True:
            if self.proc.poll() is not None:
                pytest.fail("nrpe exited with %s:\n%s" % (self.proc.returncode, self.log_tail()))
            # without -c, check_nrpe asks the daemon its version: up, and its TLS agrees with ours
            probe = subprocess.run([self.check_nrpe, "-H", "127.0.0.1", "-p", str(self.port), "-t", "5"],
                                   capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
            if probe.returncode == 0:
                return
            if time.monotonic() > end:
                pytest.fail("nrpe does not answer on %d after %ss:\n%s" % (self.port, DEADLINE, self.log_tail()))
            time.sleep(0.05)

    def call(self, command):
        return subprocess.run([self.check_nrpe, "-H", "127.0.0.1", "-p", str(self.port), "-t", "30", "-c", command],
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def nrpe(sandbox_session, tmp_path_factory):
    binary = require_binary(shutil.which("nrpe") or "/usr/sbin/nrpe")
    check_nrpe = require_binary(CHECK_NRPE)
    plugin = plugin_path("check_pryv_core")
    run_as = RunAs(tmp_path_factory, plugin)
    daemon = None
    try:
        daemon = Nrpe(binary, check_nrpe, run_as, sandbox_session, os.path.dirname(plugin))
        daemon.start()
        yield daemon
    finally:
        if daemon:
            daemon.stop()
        run_as.cleanup()


def assert_state(proc, command, state, sb):
    label = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}[state]
    word = WORDS[command.replace("_dnsless", "")]
    assert proc.returncode == state, proc.stdout + proc.stderr
    first = proc.stdout.splitlines()[0] if proc.stdout else ""
    assert first.startswith("%s %s" % (word, label)), proc.stdout
    assert "time=" in first.partition("|")[2], proc.stdout
    assert sb.token not in proc.stdout + proc.stderr


@pytest.mark.parametrize("command", ["check_pryv_dns", "check_pryv_register", "check_pryv_core", "check_pryv_platform",
                                     "check_pryv_register_dnsless", "check_pryv_core_dnsless",
                                     "check_pryv_platform_dnsless"])
def test_check_nrpe_runs_the_shipped_command(nrpe, sandbox, command):
    sandbox.set_faults(hostings="all-available")  # DNS mode's hosting2 is closed to new accounts: a WARNING
    assert_state(nrpe.call(command), command, 0, sandbox)


@pytest.mark.parametrize("command", ["check_pryv_core", "check_pryv_core_dnsless"])
def test_rejected_token_is_critical_through_nrpe(nrpe, sandbox, command):
    sandbox.set_faults(token="rejected")
    proc = nrpe.call(command)
    assert_state(proc, command, 2, sandbox)
    assert "token" in proc.stdout.lower(), proc.stdout


def test_nrpe_refuses_an_unknown_command(nrpe):
    """The daemon answers only what the file defines (and NRPE passes no arguments)."""
    proc = nrpe.call("check_pryv_nope")
    assert proc.returncode == 3, proc.stdout + proc.stderr
