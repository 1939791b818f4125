"""--proxy and --extended-perfdata, over real sockets: the HTTP plugins through Debian's tinyproxy (a real HTTP
proxy that takes CONNECT) to the sandbox, and the phases of a call as check_http -E names them."""
import pathlib
import shlex
import re
import tempfile
import time

import pytest

from conftest import cannot, dns_mode_args, dnsless_args, require_binary, run_plugin
from daemons import HOST, Daemon, free_ports

PHASE = r"'?(time_\w+)'?=(\d+(?:\.\d+)?)s;;;0"


class Tinyproxy(Daemon):
    """tinyproxy in the foreground on a free loopback port, its CONNECT allowed to `connect_ports` only (others are
    refused with 403, as a proxy's policy refuses them)."""

    logs = ("daemon.log",)

    def __init__(self, binary, work, connect_ports):
        self.work, self.port = work, free_ports(1)[0]
        conf = work / "tinyproxy.conf"
        conf.write_text("\n".join([
            "Port %d" % self.port, "Listen %s" % HOST, "Timeout 10", "Allow %s" % HOST, "MaxClients 20",
            "LogLevel Connect", *("ConnectPort %d" % port for port in connect_ports), ""]))
        self.spawn([binary, "-d", "-c", str(conf)])
        for _ in range(100):  # ready when it accepts connections
            try:
                import socket

                socket.create_connection((HOST, self.port), timeout=0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        self.stop()
        cannot("tinyproxy did not start:\n" + self.log_tail())

    @property
    def url(self):
        return "http://%s:%d" % (HOST, self.port)

    def connects(self):
        """The CONNECT requests tinyproxy logged, as HOST:PORT."""
        return re.findall(r"CONNECT (\S+) HTTP", self.log_tail(1000))


@pytest.fixture
def tinyproxy(sandbox):
    binary = require_binary("tinyproxy")
    with tempfile.TemporaryDirectory() as work:
        proxy = Tinyproxy(binary, pathlib.Path(work), [sandbox.http_port])
        try:
            yield proxy
        finally:
            proxy.stop()


def core(sb, *extra, mode=dnsless_args):
    return run_plugin("check_pryv_core", *mode(sb), "--token-file", sb.token_file, *extra)


def phases(result):
    perfdata = result.stdout.split("|")[-1]
    return {name: float(value) for name, value in re.findall(PHASE, perfdata)}


def total_time(result):
    return float(re.search(r"\btime=(\d+(?:\.\d+)?)s", result.stdout).group(1))


# --- --proxy ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("plugin", ["check_pryv_core", "check_pryv_register"])
def test_through_the_proxy_is_ok_and_the_call_crosses_it(sandbox, tinyproxy, plugin):
    extra = ["--token-file", sandbox.token_file] if plugin == "check_pryv_core" else []
    result = run_plugin(plugin, *dnsless_args(sandbox), *extra, "--proxy", tinyproxy.url, "-v")
    assert result.returncode == 0, result.stdout + tinyproxy.log_tail()
    assert "connected to: proxy %s:%d (%s)" % (HOST, tinyproxy.port, HOST) in result.stdout
    # the proxy resolved and tunnelled to the URL's own host: SNI and the certificate check stayed "localhost"
    # (the register's default question makes two calls: the health account's, and a fresh name's for its database)
    calls = 2 if plugin == "check_pryv_register" else 1
    assert tinyproxy.connects() == ["%s:%d" % (sandbox.hostname, sandbox.http_port)] * calls


def test_proxy_refusing_connect_is_critical_naming_the_proxy(sandbox, tmp_path):
    binary = require_binary("tinyproxy")
    proxy = Tinyproxy(binary, tmp_path, [443])  # the sandbox's port is not an allowed CONNECT port
    try:
        result = core(sandbox, "--proxy", proxy.url)
    finally:
        proxy.stop()
    assert result.returncode == 2, result.stdout
    assert result.stdout.splitlines()[0].startswith(
        "PRYV_CORE CRITICAL - proxy %s:%d: refused CONNECT: 403 " % (HOST, proxy.port)), result.stdout


def test_proxy_down_is_critical_naming_the_proxy(sandbox):
    port, = free_ports(1)
    result = core(sandbox, "--proxy", "http://%s:%d" % (HOST, port), "-v")
    assert result.returncode == 2, result.stdout
    assert result.stdout.splitlines()[0].startswith(
        "PRYV_CORE CRITICAL - cannot connect to proxy %s:%d: connection refused" % (HOST, port)), result.stdout
    assert "failed at stage: connect" in result.stdout


@pytest.mark.parametrize("extra, message", [
    (["--scheme", "http"], "--proxy takes HTTPS only: with --scheme http the access token would cross the proxy "
                           "in clear (see --help)"),
    (["--address", "127.0.0.1"], "--proxy and --address contradict each other: the proxy resolves the platform's "
                                 "names (see --help)"),
], ids=["plain-http", "address"])
def test_proxy_with_a_contradicting_option_is_unknown(sandbox, extra, message):
    result = run_plugin("check_pryv_core", "--hostname", "localhost", "--port", str(sandbox.http_port),
                        "--token-file", sandbox.token_file, "--proxy", "http://127.0.0.1:3128", *extra)
    assert (result.returncode, result.stdout) == (3, "PRYV_CORE UNKNOWN - %s\n" % message)


@pytest.mark.parametrize("value", ["127.0.0.1:3128", "https://127.0.0.1:3128", "http://user:pw@127.0.0.1:3128",
                                   "http://127.0.0.1", "http://127.0.0.1:0", "http://[::1:3128",
                                   "http://proxy/x:3128"])
def test_invalid_proxy_is_unknown(sandbox, value):
    result = core(sandbox, "--proxy", value)
    assert result.returncode == 3, result.stdout
    assert result.stdout.startswith("PRYV_CORE UNKNOWN - argument --proxy: invalid proxy ")
    assert "http://HOST:PORT, with no user name or password (see --help)" in result.stdout
    assert "pw@" not in result.stdout


@pytest.mark.parametrize("variable", ["https_proxy", "HTTPS_PROXY", "all_proxy"])
def test_proxy_environment_is_ignored_without_the_option(sandbox, variable):
    port, = free_ports(1)  # nothing listens there: a plugin that followed the variable would fail
    result = run_plugin("check_pryv_core", *dnsless_args(sandbox), "--token-file", sandbox.token_file,
                        env={variable: "http://%s:%d" % (HOST, port)})
    assert result.returncode == 0, result.stdout


def test_proxy_environment_is_ignored_beside_the_option(sandbox, tinyproxy):
    port, = free_ports(1)
    result = run_plugin("check_pryv_core", *dnsless_args(sandbox), "--token-file", sandbox.token_file,
                        "--proxy", tinyproxy.url, env={"https_proxy": "http://%s:%d" % (HOST, port)})
    assert result.returncode == 0, result.stdout
    assert len(tinyproxy.connects()) == 1


# --- --extended-perfdata ---------------------------------------------------------------------------------------

def test_perfdata_has_no_phases_by_default(sandbox):
    result = core(sandbox)
    assert result.returncode == 0
    assert phases(result) == {}


@pytest.mark.parametrize("mode, names", [
    (dnsless_args, ["time_connect", "time_firstbyte", "time_headers", "time_resolve", "time_ssl", "time_transfer"]),
    (dns_mode_args, ["time_connect", "time_firstbyte", "time_headers", "time_ssl", "time_transfer"]),
], ids=["dns-less-resolved", "dns-mode-address"])
def test_extended_perfdata_gives_the_phases_adding_up_to_time(sandbox, mode, names):
    result = core(sandbox, "--extended-perfdata", mode=mode)
    assert result.returncode == 0, result.stdout
    found = phases(result)
    assert sorted(found) == names  # time_resolve only when a name was resolved (not with --address)
    assert sum(found.values()) <= total_time(result) + 1e-9
    assert found["time_ssl"] > 0 and found["time_connect"] > 0


def test_extended_perfdata_over_plain_http_has_no_ssl_phase(tmp_path):
    from check_pryv.sandbox import Sandbox

    with Sandbox(state_dir=str(tmp_path), scheme="http") as sb:
        result = run_plugin("check_pryv_register", *dnsless_args(sb), "--extended-perfdata")
    assert result.returncode == 0, result.stdout
    assert sorted(phases(result)) == ["time_connect", "time_firstbyte", "time_headers", "time_resolve",
                                      "time_transfer"]


def test_extended_perfdata_shows_where_a_slow_answer_waits(sandbox):
    sandbox.set_faults(delay=0.3)
    result = core(sandbox, "--extended-perfdata")
    assert result.returncode == 0, result.stdout
    found = phases(result)
    assert 0.3 <= found["time_firstbyte"] < total_time(result)
    assert found["time_connect"] < 0.1 and found["time_ssl"] < 0.2


def test_extended_perfdata_through_the_proxy(sandbox, tinyproxy):
    result = core(sandbox, "--extended-perfdata", "--proxy", tinyproxy.url)
    assert result.returncode == 0, result.stdout
    found = phases(result)
    assert sorted(found) == ["time_connect", "time_firstbyte", "time_headers", "time_resolve", "time_ssl",
                             "time_transfer"]
    assert sum(found.values()) <= total_time(result) + 1e-9


# --- check_pryv_setup --proxy -----------------------------------------------------------------------------------

def test_setup_through_the_proxy_prints_lines_that_use_it(sandbox, tinyproxy, tmp_path):
    token_file = tmp_path / "token"
    result = run_plugin("check_pryv_setup", *dnsless_args(sandbox), "--username", "healthmetrics02",
                        "--proxy", tinyproxy.url, "--token-file", str(token_file),
                        env={"PRYV_PASSWORD": "a-new-password-1"})
    assert result.returncode == 0, result.stderr
    assert "core: token verified (access-info, events?limit=1)" in result.stderr
    assert set(tinyproxy.connects()) == {"%s:%d" % (sandbox.hostname, sandbox.http_port)}
    calls = len(tinyproxy.connects())
    lines = [line.strip() for line in result.stderr.splitlines()]
    pasted = lines[lines.index("# check it now:") + 1]
    assert "--proxy %s" % tinyproxy.url in pasted
    core = run_plugin(*shlex.split(pasted))
    assert core.returncode == 0, core.stdout
    assert len(tinyproxy.connects()) == calls + 1  # the pasted line went through the proxy too


def test_setup_with_proxy_over_plain_http_is_refused(sandbox):
    result = run_plugin("check_pryv_setup", "--hostname", "localhost", "--scheme", "http", "--proxy",
                        "http://127.0.0.1:3128", env={"PRYV_PASSWORD": "a-new-password-1"})
    assert result.returncode == 2, result.stderr
    assert ("--proxy takes HTTPS only: with --scheme http the access token would cross the proxy in clear"
            in result.stderr)
