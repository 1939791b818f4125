"""Icinga 2: the shipped CheckCommands, service templates and apply rules, proven with the real daemon.

* ``icinga2 daemon -C`` accepts the files of ``icinga2/`` laid out as README.rst says
  (commands in a global zone, services and hosts in the master's zone, the agents in zones.conf), and the
  apply rules give each example host the services they promise.
* A real icinga2 on loopback runs the services of the shipped apply rules against the sandbox (DNS mode and
  DNS-less); its API gives back each result (exit status, output, perfdata) and the argv it built, which never
  holds the token. A second icinga2, an agent, runs the ``pryv-*-from-ENDPOINT`` services through
  ``command_endpoint``. Then the sandbox rejects the token and ``pryv-core`` turns CRITICAL.

Without icinga2 these tests skip, unless CHECK_PRYV_REQUIRE_DAEMONS=1 (CI) makes them fail.
"""
import grp
import json
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from check_pryv import advice
from conftest import cannot, dns_mode_args, dnsless_args, plugin_path, require_binary
from daemons import Daemon, free_ports

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "icinga2"
COMMANDS = {"pryv-dns": "check_pryv_dns", "pryv-register": "check_pryv_register", "pryv-core": "check_pryv_core"}
# the detailed commands, and pryv-platform (every check at once, an optional service)
ALL_COMMANDS = dict(COMMANDS, **{"pryv-platform": "check_pryv_platform"})
WITH_TOKEN = {"pryv-core", "pryv-platform"}
SHARED_VARS = {"pryv_domain", "pryv_hostname", "pryv_username"}
# Platform-wide defaults: each command reads them through its own variable (pryv_core_port <- pryv_port).
PLATFORM_VARS = {"pryv_address", "pryv_port", "pryv_scheme", "pryv_ca_cert", "pryv_insecure", "pryv_timeout"}
MASTER = "master.check-pryv.test"
AGENT = "agent.check-pryv.test"
DNS_HOST = "sandbox-dns-mode"
DNSLESS_HOST = "sandbox-dnsless"
DEADLINE = 30  # seconds: upper bound of every wait on a daemon
DOCS_URL = "http://127.0.0.1/check-pryv"  # where a host says the HTML docs are served


def icinga2_binary():
    return require_binary(shutil.which("icinga2") or "/usr/sbin/icinga2")


# What icinga2-bin's postinst enables on a new installation ("icinga2 feature enable checker notification mainlog").
STOCK_FEATURES = ("checker", "notification", "mainlog")


@pytest.fixture(scope="session")
def stock_icinga2(tmp_path_factory):
    """Debian's stock /etc/icinga2 from the package's own files (icinga2-common's .deb, from apt's cache or
    `apt-get download`), with the features a new installation enables: never this machine's /etc/icinga2, which
    an admin may have changed (the api feature enabled, say, wants certificates)."""
    version = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "icinga2-common"], capture_output=True, text=True,
                             timeout=30)
    if version.returncode != 0:
        cannot("icinga2-common is not installed")
    work = tmp_path_factory.mktemp("stock-icinga2")
    deb = Path("/var/cache/apt/archives/icinga2-common_%s_all.deb" % version.stdout.replace(":", "%3a"))
    if not deb.exists():
        fetched = subprocess.run(["apt-get", "download", "-q", "icinga2-common=" + version.stdout], cwd=work,
                                 capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        deb = next(work.glob("icinga2-common_*.deb"), None)
        if deb is None:
            cannot("icinga2-common's .deb is neither in apt's cache nor downloadable: " + fetched.stderr.strip())
    subprocess.run(["dpkg-deb", "-x", str(deb), str(work / "root")], check=True, timeout=60)
    etc = work / "root" / "etc" / "icinga2"
    for feature in STOCK_FEATURES:
        (etc / "features-enabled" / (feature + ".conf")).symlink_to("../features-available/%s.conf" % feature)
    return etc


def plugin_dir():
    return os.path.dirname(plugin_path("check_pryv_core"))


def q(value):
    """An Icinga 2 DSL string literal."""
    return json.dumps(str(value))


def runtime_defines(work):
    """Every runtime path of the daemon inside `work`, and the current user to run as."""
    dirs = {name: work / sub for name, sub in
            [("DataDir", "lib"), ("LogDir", "log"), ("CacheDir", "cache"), ("SpoolDir", "spool"), ("InitRunDir", "run")]}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    defines = ["-D%s=%s" % (name, path) for name, path in dirs.items()]
    return defines + ["-DConfigDir=%s" % work, "-DPidPath=%s" % (work / "run" / "icinga2.pid"),
                      "-DRunAsUser=%s" % pwd.getpwuid(os.getuid()).pw_name,
                      "-DRunAsGroup=%s" % grp.getgrgid(os.getgid()).gr_name]


def read_objects(work):
    """The objects `icinga2 daemon -C` dumped into CacheDir/icinga2.debug (netstrings of JSON)."""
    data = (work / "cache" / "icinga2.debug").read_bytes()
    objects, pos = [], 0
    while pos < len(data):
        colon = data.index(b":", pos)
        length = int(data[pos:colon])
        objects.append(json.loads(data[colon + 1:colon + 1 + length]))
        pos = colon + 1 + length + 1  # the trailing ","
    return objects


def validate(binary, work, conf):
    proc = subprocess.run([binary, "daemon", "-C", "-c", str(conf), *runtime_defines(work)],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, "icinga2 daemon -C rejected the configuration:\n" + proc.stdout + proc.stderr
    return read_objects(work)


def macros(text):
    return re.findall(r"\$([A-Za-z0-9_.]+)\$", text)


# --- icinga2 daemon -C: the documented layout ------------------------------------------------------------------


@pytest.fixture(scope="module")
def validated(tmp_path_factory):
    """Validate the shipped files as an operator installs them; return {PryvPluginDir setting: objects}."""
    binary = icinga2_binary()
    results = {}
    for plugin_dir_const in (None, "/opt/check_pryv/bin"):
        work = tmp_path_factory.mktemp("icinga2-validate")
        zones = work / "zones.d"
        (zones / "global-templates").mkdir(parents=True)
        (zones / "master").mkdir()
        shutil.copy(SHIPPED / "pryv-commands.conf", zones / "global-templates" / "pryv-commands.conf")
        shutil.copy(SHIPPED / "pryv-services.conf", zones / "master" / "pryv-services.conf")
        shutil.copy(SHIPPED / "pryv-remote.conf", zones / "master" / "pryv-remote.conf")
        shutil.copy(SHIPPED / "pryv-hosts.conf.example", zones / "master" / "pryv-hosts.conf")
        shutil.copy(SHIPPED / "pryv-agents.conf.example", zones / "master" / "pryv-agents.conf")
        (zones / "master" / "other-hosts.conf").write_text(
            'object Host "not-pryv" { import "generic-host"; address = "127.0.0.1" }\n'
            'object Host "both-modes" { import "generic-host"; address = "127.0.0.1"\n'
            '  vars.pryv_domain = "pryv.example.com"; vars.pryv_hostname = "pryv.example.com" }\n')
        conf = work / "icinga2.conf"
        conf.write_text("\n".join([
            'const PluginDir = "/usr/lib/nagios/plugins"',
            'const NodeName = %s' % q(MASTER),
            'const ZoneName = "master"',
            # constants.conf comes first in icinga2.conf: the operator's PryvPluginDir wins over the default
            'const PryvPluginDir = %s' % q(plugin_dir_const) if plugin_dir_const else '',
            'include <itl>',
            'include <plugins>',
            'object Endpoint NodeName { }',
            'object Zone ZoneName { endpoints = [ NodeName ] }',
            'object Zone "global-templates" { global = true }',  # as in Debian's stock zones.conf
            'include %s' % q(SHIPPED / "zones.conf.example"),
            # what the stock conf.d/templates.conf provides
            'template Host "generic-host" { max_check_attempts = 3; check_interval = 1m; check_command = "hostalive" }',
            'include_zones "check_pryv", %s' % q(zones),
            '',
        ]))
        results[plugin_dir_const] = validate(binary, work, conf)
    return results


def readme_recipe(intro):
    """The shell lines of the README's literal block that follows the paragraph starting with `intro`."""
    text = (REPO / "README.rst").read_text()
    block = text[text.index(intro):].split("::\n\n", 1)[1]
    lines = []
    for line in block.splitlines():
        if line and not line.startswith("    "):
            break
        if line.strip():
            lines.append(line.strip())
    return lines


# Where a package of check_pryv puts the CheckCommands, loaded by the stock `include <plugins-contrib>`.
PACKAGED_COMMANDS = Path("/usr/share/icinga2/include/plugins-contrib.d/pryv-commands.conf")
RECIPES = {"single node": "Where to copy them. A single Icinga 2 node", "distributed": "A distributed setup"}


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_readme_recipe_validates_on_debians_stock_config(tmp_path, recipe, stock_icinga2):
    """The README's copy commands, run on a copy of Debian's stock /etc/icinga2: `icinga2 daemon -C` says
    nothing worse than information."""
    binary = icinga2_binary()
    etc = tmp_path / "etc"
    shutil.copytree(stock_icinga2, etc, ignore=shutil.ignore_patterns("pki", "zones.d"))
    (etc / "zones.d").mkdir()
    lines = readme_recipe(RECIPES[recipe])
    assert lines[-1] == "icinga2 daemon -C", lines
    if PACKAGED_COMMANDS.exists():  # as the README says: with the packaged CheckCommands, skip their line
        lines = [line for line in lines if "pryv-commands.conf" not in line]
    script = "set -e\n" + "\n".join(lines[:-1]).replace("/etc/icinga2", str(etc)) + "\n"
    subprocess.run(["bash", "-c", script], cwd=REPO, check=True, timeout=60, stdin=subprocess.DEVNULL)
    work = tmp_path / "run"
    defines = [d for d in runtime_defines(work) if not d.startswith("-DConfigDir=")]
    proc = subprocess.run([binary, "daemon", "-C", "-c", str(etc / "icinga2.conf"), "-DConfigDir=%s" % etc,
                           "-DZonesDir=%s" % (etc / "zones.d"), "-DNodeName=master.example.com", *defines],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert [line for line in output.splitlines() if "/information" not in line.split(":")[0]
            and "information/" not in line] == [], output
    services = {p["__name"] for p in by_type(read_objects(work), "Service").values() if "pryv" in p["__name"]}
    assert "pryv.example.com!pryv-core-certificate" in services and "pryv.example.org!pryv-core" in services
    assert ("pryv.example.net!pryv-core-from-agent-zurich.example.com" in services) == (recipe == "distributed")


def by_type(objects, kind):
    return {o["properties"]["__name"]: o["properties"] for o in objects if o["type"] == kind}


@pytest.mark.parametrize("const, expected_dir", [(None, "/usr/lib/nagios/plugins"),  # PluginDir, the .deb's
                                                ("/opt/check_pryv/bin", "/opt/check_pryv/bin")])
def test_commands_use_pryv_plugin_dir(validated, const, expected_dir):
    commands = by_type(validated[const], "CheckCommand")
    for name, script in ALL_COMMANDS.items():
        assert commands[name]["command"] == [expected_dir + "/" + script]
        assert commands[name]["zone"] == "global-templates"


@pytest.mark.parametrize("name", sorted(ALL_COMMANDS))
def test_commands_follow_the_itl_style(validated, name):
    command = by_type(validated[None], "CheckCommand")[name]
    prefix = name.replace("-", "_") + "_"
    assert command["arguments"], name
    for key, spec in command["arguments"].items():
        assert key.startswith("--"), "%s: arguments are keyed by long option, not %r" % (name, key)
        assert key not in ("--token", "--help", "--version"), (name, key)
        assert isinstance(spec, dict) and spec.get("description"), "%s %s has no description" % (name, key)
        used = macros(str(spec.get("value", ""))) + macros(str(spec.get("set_if", "")))
        assert used, "%s %s uses no variable" % (name, key)
        for var in used:
            assert var in SHARED_VARS or var.startswith(prefix), "%s %s: variable %s" % (name, key, var)
        if "set_if" in spec:
            assert "value" not in spec, "%s %s: a flag takes no value" % (name, key)
    if name in WITH_TOKEN:
        assert command["env"] == {"PRYV_ACCESS_TOKEN": "$%stoken$" % prefix}
    else:
        assert not command.get("env")
    # -4/-6 follow the ITL's check_ipv4/check_ipv6, false by default
    expected = {prefix + "ipv4": "$check_ipv4$", prefix + "ipv6": "$check_ipv6$", prefix + "verbose": True}
    assert {k: v for k, v in command["vars"].items() if k.startswith(prefix)} == expected
    assert command["vars"]["check_ipv4"] is False and command["vars"]["check_ipv6"] is False


@pytest.mark.parametrize("name", sorted(ALL_COMMANDS))
def test_commands_cover_every_plugin_option(validated, name):
    """Each long option of the plugin's --help has its argument (but --token, which shows in ps, and
    check_pryv_platform's --json, for scripts)."""
    proc = subprocess.run([plugin_path(ALL_COMMANDS[name]), "--help"], capture_output=True, text=True, timeout=30)
    options = set(re.findall(r"^\s+(?:-\w(?: \S+)?, )?(--[a-z][a-z0-9-]*)", proc.stdout, re.M))
    options -= {"--help", "--version", "--token", "--json"}
    assert options, proc.stdout
    assert set(by_type(validated[None], "CheckCommand")[name]["arguments"]) == options


def test_apply_rules_give_the_example_hosts_their_services(validated):
    services = by_type(validated[None], "Service")
    found = {}
    for props in services.values():
        found.setdefault(props["host_name"], {})[props["name"]] = props
    endpoints = ["agent-zurich.example.com", "agent-lausanne.example.com"]
    opt_in = {"pryv-hostings", "pryv-service-info", "pryv-certificate", "pryv-core-certificate", "pryv-auth-request",
              "pryv-series", "pryv-attachment", "pryv-notifications", "pryv-platform"}
    assert set(found["pryv.example.com"]) == {"pryv-dns", "pryv-register", "pryv-core"} | opt_in  # DNS mode
    assert set(found["pryv.example.org"]) == {"pryv-register", "pryv-core"}  # DNS-less: no DNS check
    remote = {"%s-from-%s" % (c, e) for c in COMMANDS for e in endpoints}
    assert set(found["pryv.example.net"]) == set(COMMANDS) | remote
    for name, props in found["pryv.example.net"].items():
        assert props["check_command"] == name.split("-from-")[0].replace("-certificate", "")
        if "-from-" in name:
            assert props["command_endpoint"] == name.split("-from-")[1]
        else:
            assert not props["command_endpoint"]
    assert "not-pryv" not in found  # no pryv_domain nor pryv_hostname
    # both: the services exist (and the plugins answer UNKNOWN), so that the mistake shows
    assert set(found["both-modes"]) == {"pryv-dns", "pryv-register", "pryv-core"}
    for host in found.values():
        for props in host.values():
            assert props["check_command"] in ALL_COMMANDS and props["zone"] == "master"


def test_dependencies_chain_each_service_to_what_it_needs(validated):
    """register <- everything else but the core's parts; core <- its parts (series, attachments, notifications); in
    DNS mode dns <- register; from an agent, the same chain on that agent."""
    found = {name: (props["parent_host_name"], props["parent_service_name"], props["disable_notifications"])
             for name, props in by_type(validated[None], "Dependency").items()}
    expected = {"pryv.example.com!%s!pryv-upstream" % service: ("pryv.example.com", "pryv-core", True)
                for service in ("pryv-series", "pryv-attachment", "pryv-notifications", "pryv-core-certificate")}
    for host, services in (("pryv.example.com", ["pryv-core", "pryv-hostings", "pryv-service-info", "pryv-certificate",
                                                 "pryv-auth-request"]),
                           ("pryv.example.org", ["pryv-core"]), ("pryv.example.net", ["pryv-core"]),
                           ("both-modes", ["pryv-core"])):
        for service in services:
            expected["%s!%s!pryv-upstream" % (host, service)] = (host, "pryv-register", True)
    # a core that is down alerts once: its certificate service needs it
    expected["pryv.example.com!pryv-core-certificate!pryv-upstream"] = ("pryv.example.com", "pryv-core", True)
    for host in ("pryv.example.com", "pryv.example.net", "both-modes"):  # DNS mode
        expected["%s!pryv-register!pryv-upstream" % host] = (host, "pryv-dns", True)
    for endpoint in ("agent-zurich.example.com", "agent-lausanne.example.com"):
        for child, parent in (("register", "dns"), ("core", "register")):
            expected["pryv.example.net!pryv-%s-from-%s!pryv-upstream-from-endpoint" % (child, endpoint)] = (
                "pryv.example.net", "pryv-%s-from-%s" % (parent, endpoint), True)
    assert found == expected


def test_every_service_has_notes_and_its_links(validated, tmp_path):
    """notes on every pryv-* service; notes_url to its docs section once the host says where the docs are;
    action_url to the register's service info on the register's services."""
    services = [p for p in by_type(validated[None], "Service").values() if p["vars"].get("pryv_service")]
    assert len(services) > 20
    for props in services:
        assert props["notes"].count(". ") >= 1 and "First look: " in props["notes"], (props["__name"], props["notes"])
        assert not props["notes_url"], props["__name"]  # no example host sets pryv_docs_url
        register = props["check_command"] == "pryv-register"
        assert bool(props["action_url"]) == register, (props["__name"], props["action_url"])
    found = {p["__name"]: p for p in services}
    assert found["pryv.example.com!pryv-register"]["action_url"] == "https://reg.pryv.example.com/service/info"
    assert found["pryv.example.org!pryv-register"]["action_url"] == "https://pryv.example.org/reg/service/info"
    sections = {name.split("!")[1]: props["vars"]["pryv_docs_section"] for name, props in found.items()
                if name.startswith("pryv.example.com!")}
    assert sections == {"pryv-dns": "plugins.html#check-pryv-dns", "pryv-register": "plugins.html#check-pryv-register",
                        "pryv-core": "plugins.html#check-pryv-core", "pryv-hostings": "plugins.html#hostings",
                        "pryv-service-info": "plugins.html#service-info",
                        "pryv-certificate": "plugins.html#certificate-expiry",
                        "pryv-core-certificate": "plugins.html#certificate-expiry",
                        "pryv-auth-request": "plugins.html#app-sign-in",
                        "pryv-series": "plugins.html#the-hfs-and-the-file-storage-series-attachment",
                        "pryv-attachment": "plugins.html#the-hfs-and-the-file-storage-series-attachment",
                        "pryv-notifications": "plugins.html#notifications-check-pryv-core-notifications",
                        "pryv-platform": "plugins.html#check-pryv-platform-every-check-at-once"}
    # each anchor is a section of docs/plugins.rst (docutils makes `check_pryv_core` into `check-pryv-core`)
    titles = re.findall(r"^(\S[^\n]*)\n(?:-{3,}|={3,})$", (REPO / "docs" / "plugins.rst").read_text(), re.M)
    anchors = {re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") for title in titles}
    assert {section.split("#")[1] for section in sections.values()} <= anchors, anchors


# --- a real icinga2 (and an agent) on loopback -----------------------------------------------------------------


def make_certs(work, nodes):
    """A CA and one certificate per node (CN = endpoint name, SAN 127.0.0.1), made with openssl."""
    openssl = shutil.which("openssl")
    if not openssl:
        pytest.fail("openssl is needed to make the icinga2 certificates")
    work.mkdir(parents=True, exist_ok=True)

    def run(*args):
        subprocess.run([openssl, *args], check=True, capture_output=True, timeout=60)

    ca_key, ca_crt = work / "ca.key", work / "ca.crt"
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", "/CN=check_pryv test CA",
        "-keyout", str(ca_key), "-out", str(ca_crt))
    for node in nodes:
        key, csr, crt, ext = (work / (node + suffix) for suffix in (".key", ".csr", ".crt", ".ext"))
        ext.write_text("subjectAltName=DNS:%s,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n" % node)
        run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + node, "-keyout", str(key), "-out", str(csr))
        run("x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key), "-CAcreateserial",
            "-days", "30", "-extfile", str(ext), "-out", str(crt))
    return ca_crt


class Icinga2(Daemon):
    """One icinga2 daemon in the foreground, all its state under `work`."""

    tail_lines = 40

    def __init__(self, binary, work, node, config, certs):
        self.binary, self.work, self.node = binary, work, node
        work.mkdir(parents=True, exist_ok=True)
        self.defines = runtime_defines(work)
        cert_dir = work / "lib" / "certs"
        cert_dir.mkdir(parents=True, exist_ok=True)
        for suffix in (".crt", ".key"):
            shutil.copy(certs / (node + suffix), cert_dir / (node + suffix))
        shutil.copy(certs / "ca.crt", cert_dir / "ca.crt")
        self.conf = work / "icinga2.conf"
        self.conf.write_text(config)

    def start(self):
        self.spawn([self.binary, "daemon", "-c", str(self.conf), *self.defines])

    def check_alive(self):
        if self.proc.poll() is not None:
            pytest.fail("icinga2 %s exited with %s:\n%s" % (self.node, self.proc.returncode, self.log_tail()))


class Api:
    """The master's REST API."""

    def __init__(self, port, user, password, ca):
        self.base = "https://127.0.0.1:%d/v1" % port
        self.session = requests.Session()
        self.session.trust_env = False  # else REQUESTS_CA_BUNDLE (and proxies) from the environment win over verify
        self.session.auth = (user, password)
        self.session.verify = str(ca)
        self.session.headers["Accept"] = "application/json"

    def get(self, path, **params):
        reply = self.session.get(self.base + path, params=params, timeout=10)
        reply.raise_for_status()
        return reply.json()["results"]

    def post(self, path, body):
        reply = self.session.post(self.base + path, json=body, timeout=10)
        reply.raise_for_status()
        return reply.json()["results"]

    def services(self):
        return {r["name"]: r["attrs"] for r in self.get("/objects/services", attrs=["last_check_result"])}

    def reschedule(self, names):
        flt = " || ".join('service.__name == %s' % json.dumps(n) for n in names)
        return self.post("/actions/reschedule-check", {"type": "Service", "filter": flt, "force": True})


def wait_until(what, predicate, daemons, deadline=DEADLINE, step=0.1):
    end = time.monotonic() + deadline
    while True:
        for daemon in daemons:
            daemon.check_alive()
        try:
            value = predicate()
        except (requests.RequestException, OSError):
            value = None
        if value:
            return value
        if time.monotonic() > end:
            pytest.fail("no %s after %ss:\n%s" % (what, deadline, "\n".join(d.log_tail() for d in daemons)))
        time.sleep(step)


def host_vars(command, args):
    """Icinga 2 variables equivalent to a plugin command line (dns_mode_args() and the like): the command's
    own (pryv_core_port), or with no command the platform-wide ones (pryv_port)."""
    result, i = {}, 0
    while i < len(args):
        option = args[i]
        has_value = i + 1 < len(args) and not args[i + 1].startswith("--")
        name = option[2:].replace("-", "_")
        shared = "pryv_" + name in SHARED_VARS or command is None
        var = "pryv_" + name if shared else "pryv_%s_%s" % (command, name)
        result[var] = args[i + 1] if has_value else True
        i += 2 if has_value else 1
    return result


def dsl_vars(variables):
    lines = []
    for name, value in sorted(variables.items()):
        if isinstance(value, bool):
            literal = "true" if value else "false"
        elif isinstance(value, list):
            literal = "[ %s ]" % ", ".join(q(v) for v in value)
        else:
            literal = q(value)
        lines.append("\tvars.%s = %s" % (name, literal))
    return "\n".join(lines)


def dns_args(sb):
    return ["--domain", sb.domain, "--username", sb.username, "--server", "127.0.0.1", "--port", str(sb.dns_port)]


# The DNS-mode host sets only platform-wide variables: pryv_timeout reaches all three commands.
PLATFORM_TIMEOUT = ["--timeout", "20"]


def expected_argv(sb):
    """{(host, service): the plugin's argv we expect icinga2 to build} for the local services."""
    user, verbose = ["--username", sb.username], ["--verbose"]  # long output by default
    return {
        (DNS_HOST, "pryv-dns"): dns_args(sb) + PLATFORM_TIMEOUT + verbose,
        (DNS_HOST, "pryv-register"): dns_mode_args(sb) + user + PLATFORM_TIMEOUT + verbose,
        (DNS_HOST, "pryv-core"): dns_mode_args(sb) + user + PLATFORM_TIMEOUT + verbose,  # the token: in the environment
        (DNSLESS_HOST, "pryv-register"): dnsless_args(sb) + user,  # the host turned long output off
        (DNSLESS_HOST, "pryv-core"): dnsless_args(sb) + user + ["--token-file", sb.token_file, "--verbose"],
    }


# The services a host asks for with pryv-services.conf's own host variables (hostings, service info, certificates)
CORE_PARTS = {"pryv-series": "--series", "pryv-attachment": "--attachment", "pryv-notifications": "--notifications"}
# the core's parts on one host: checks of one account's parts at once meet on its check event (the series' point,
# the attachment) and its namespace (the platform notifies the form that joined first: plugins.rst)
PARTS_VARS = {"pryv_series": True, "pryv_attachment": True, "pryv_notifications": True}
OPT_IN_VARS = {
    DNS_HOST: {"pryv_hostings": ["hosting1"], "pryv_service_info": True, "pryv_certificate_days": "30,14",
               "pryv_auth_request": True},
    DNSLESS_HOST: {"pryv_hostings": True, "pryv_service_info": True, "pryv_auth_request": True, **PARTS_VARS},
}


def opt_in_argv(sb):
    """{(host, service): (plugin command, the argv we expect icinga2 to build)} for the opt-in services."""
    dns = dns_mode_args(sb) + ["--username", sb.username] + PLATFORM_TIMEOUT + ["--verbose"]
    dnsless = dnsless_args(sb) + ["--username", sb.username]  # the host turned the register's long output off
    return {
        (DNS_HOST, "pryv-hostings"): ("pryv-register", dns + ["--hostings", "--hosting", "hosting1"]),
        (DNS_HOST, "pryv-service-info"): ("pryv-register", dns + ["--service-info"]),
        (DNS_HOST, "pryv-certificate"): ("pryv-register", dns + ["--certificate-days", "30,14"]),
        (DNS_HOST, "pryv-core-certificate"): ("pryv-core", dns + ["--certificate-days", "30,14"]),
        (DNSLESS_HOST, "pryv-hostings"): ("pryv-register", dnsless + ["--hostings"]),
        (DNSLESS_HOST, "pryv-service-info"): ("pryv-register", dnsless + ["--service-info"]),
    }


def sandbox_hosts(sb, with_agent):
    """The DNS-mode host with platform-wide variables only; the DNS-less one with each command's own, which win
    over platform-wide ones that would fail."""
    dns_vars = host_vars("dns", dns_args(sb))
    dns_vars["pryv_dns_server"] = ["127.0.0.1"]  # repeatable: an array
    dns_vars.update(host_vars(None, dns_mode_args(sb) + PLATFORM_TIMEOUT))
    dns_vars["pryv_core_token"] = sb.token  # goes to the environment
    assert dns_vars["pryv_address"] == "127.0.0.1"
    dns_vars["pryv_address"] = "$address$"  # as pryv-hosts.conf.example suggests: the host's address
    if with_agent:
        dns_vars["pryv_check_endpoints"] = [AGENT]
    dns_vars.update(OPT_IN_VARS[DNS_HOST])
    dns_vars["pryv_docs_url"] = DOCS_URL
    # long output turned off for the register (a flag, set_if, on by default), left on for the core
    dnsless_vars = {"pryv_username": sb.username, "pryv_core_token_file": sb.token_file, "pryv_register_verbose": False,
                    "pryv_port": "1"}
    if sb.scheme == "https":
        dnsless_vars["pryv_ca_cert"] = "/nonexistent/ca.pem"
    dnsless_vars.update(OPT_IN_VARS[DNSLESS_HOST])
    dnsless_vars.update(host_vars("register", dnsless_args(sb)))
    dnsless_vars.update(host_vars("core", dnsless_args(sb)))
    hosts = []
    for name, variables in ((DNS_HOST, dns_vars), (DNSLESS_HOST, dnsless_vars)):
        hosts.append('object Host %s {\n\tcheck_command = "dummy"\n\taddress = "127.0.0.1"\n'
                     '\tzone = ZoneName\n%s\n}\n' % (q(name), dsl_vars(variables)))
    return "\n".join(hosts)


def common_header(node, zone, port, notifications=False):
    return "\n".join([
        'const PluginDir = "/usr/lib/nagios/plugins"',
        # the .deb's plugins are in PluginDir, PryvPluginDir's default: no constant, as an admin would have it
        '' if plugin_dir() == "/usr/lib/nagios/plugins" else 'const PryvPluginDir = %s' % q(plugin_dir()),
        'const NodeName = %s' % q(node),
        'const ZoneName = %s' % q(zone),
        'include <itl>',
        'include <plugins>',
        # no check runs unless the test asks for it (reschedule-check with force): no race with the scheduler
        'object IcingaApplication "app" { enable_host_checks = false; enable_service_checks = false; '
        'enable_notifications = %s; enable_event_handlers = false }' % str(notifications).lower(),
        'object ApiListener "api" { bind_host = "127.0.0.1"; bind_port = %s; accept_commands = true }' % q(port),
        '',
    ])


@pytest.fixture(scope="module")
def icinga(sandbox_session, tmp_path_factory):
    """A master icinga2 (API on loopback) and an agent it sends the pryv-*-from-AGENT checks to."""
    binary = icinga2_binary()
    sb = sandbox_session
    work = tmp_path_factory.mktemp("icinga2-live")
    certs = make_certs(work / "certs", [MASTER, AGENT]).parent
    master_port, agent_port = free_ports(2)
    user, password = "check_pryv", secrets.token_urlsafe(16)

    agent_conf = common_header(AGENT, AGENT, agent_port) + "\n".join([
        'object Endpoint NodeName { }',
        'object Zone ZoneName { endpoints = [ NodeName ]; parent = "master" }',
        'object Endpoint %s { }' % q(MASTER),
        'object Zone "master" { endpoints = [ %s ] }' % q(MASTER),
        # what the global zone syncs to an agent
        'include %s' % q(SHIPPED / "pryv-commands.conf"),
        '',
    ])
    sent = work / "notifications.log"
    master_conf = common_header(MASTER, "master", master_port, notifications=True) + "\n".join([
        # every notification of a pryv-* service, one line each in a file: what an operator would be sent
        'object NotificationComponent "notification" { }',
        'object User "operator" { }',
        'object NotificationCommand "to-file" { command = [ "/bin/sh", "-c", %s ] }' % q(
            'echo "$service.name$ $service.state$" >> %s' % sent),
        'apply Notification "to-file" to Service { command = "to-file"; users = [ "operator" ]; interval = 0; '
        'assign where service.vars.pryv_service }',
        'object CheckerComponent "checker" { }',
        'object ApiUser %s { password = %s; permissions = [ "*" ] }' % (q(user), q(password)),
        'object Endpoint NodeName { }',
        'object Zone ZoneName { endpoints = [ NodeName ] }',
        'object Endpoint %s { host = "127.0.0.1"; port = %s }' % (q(AGENT), q(agent_port)),
        'object Zone %s { endpoints = [ %s ]; parent = ZoneName }' % (q(AGENT), q(AGENT)),
        'include %s' % q(SHIPPED / "pryv-commands.conf"),
        'include %s' % q(SHIPPED / "pryv-services.conf"),
        'include %s' % q(SHIPPED / "pryv-remote.conf"),
        sandbox_hosts(sb, with_agent=True),
    ])
    agent = Icinga2(binary, work / "agent", AGENT, agent_conf, certs)
    master = Icinga2(binary, work / "master", MASTER, master_conf, certs)
    try:
        agent.start()

        def agent_listens():
            with socket.create_connection(("127.0.0.1", agent_port), timeout=1):
                return True

        wait_until("agent listening on %d" % agent_port, agent_listens, [agent])
        master.start()
        api = Api(master_port, user, password, certs / "ca.crt")
        api.daemons = [master, agent]
        api.notifications = sent
        wait_until("master API", lambda: api.get("/status/IcingaApplication"), api.daemons)
        wait_until("agent connected to the master",
                   lambda: api.get("/objects/endpoints", attrs=["connected"], filter="endpoint.name==%s" % q(AGENT))
                   [0]["attrs"]["connected"], api.daemons)
        yield api
    finally:
        master.stop()
        agent.stop()


def run_checks(api, names):
    """Force a check of each service now; return {name: last_check_result} of runs that started after this call."""
    since = time.time()
    api.reschedule(names)
    last_post = time.monotonic()

    def fresh():
        nonlocal last_post
        results = api.services()
        missing = [n for n in names if not (results.get(n, {}).get("last_check_result") or {}).get("execution_start", 0) >= since]
        if not missing:
            return {n: results[n]["last_check_result"] for n in names}
        if time.monotonic() - last_post > 5:  # a forced check lost to a run in flight: ask again
            api.reschedule(missing)
            last_post = time.monotonic()
        return None

    return wait_until("check results for %s" % ", ".join(names), fresh, api.daemons)


@pytest.fixture(scope="module")
def first_round(icinga, sandbox_session):
    sandbox_session.reset()
    names = ["%s!%s" % key for key in expected_argv(sandbox_session)] + \
            ["%s!%s-from-%s" % (DNS_HOST, c, AGENT) for c in COMMANDS]
    return run_checks(icinga, names)


def option_pairs(argv):
    """{option: value, or True for a flag}, from an argv without its program."""
    return host_vars("x", argv)


def assert_no_token(sb, result):
    assert sb.token not in json.dumps(result), "the token leaked into the check result"
    command = result["command"]
    assert isinstance(command, list), command
    assert not any(a == "--token" or a.startswith("--token=") for a in command)


def assert_ok(result, command):
    word = COMMANDS[command].replace("check_", "").upper()  # PRYV_CORE
    assert result["exit_status"] == 0, (result["output"], result["command"])
    assert result["state"] == 0, result
    assert result["output"].startswith(word + " OK"), result["output"]
    assert any(p.startswith("time=") for p in result["performance_data"]), result["performance_data"]


@pytest.mark.parametrize("host, service", [
    (DNS_HOST, "pryv-dns"), (DNS_HOST, "pryv-register"), (DNS_HOST, "pryv-core"),
    (DNSLESS_HOST, "pryv-register"), (DNSLESS_HOST, "pryv-core")])
def test_icinga2_runs_the_service(first_round, sandbox_session, host, service):
    sb = sandbox_session
    result = first_round["%s!%s" % (host, service)]
    assert_ok(result, service)
    assert_no_token(sb, result)
    argv = result["command"]
    assert argv[0] == os.path.join(plugin_dir(), COMMANDS[service])
    assert option_pairs(argv[1:]) == option_pairs(expected_argv(sb)[(host, service)])
    if service == "pryv-core" and host == DNS_HOST:
        assert "--token-file" not in argv  # the token came through PRYV_ACCESS_TOKEN


@pytest.mark.parametrize("service", sorted(COMMANDS))
def test_agent_runs_the_service_through_command_endpoint(first_round, sandbox_session, service):
    result = first_round["%s!%s-from-%s" % (DNS_HOST, service, AGENT)]
    assert_ok(result, service)
    assert_no_token(sandbox_session, result)
    assert result["check_source"] == AGENT
    assert option_pairs(result["command"][1:]) == option_pairs(expected_argv(sandbox_session)[(DNS_HOST, service)])


def test_rejected_token_turns_pryv_core_critical(icinga, first_round, sandbox):
    sandbox.set_faults(token="rejected")
    names = ["%s!pryv-core" % DNS_HOST, "%s!pryv-core" % DNSLESS_HOST, "%s!pryv-core-from-%s" % (DNS_HOST, AGENT)]
    results = run_checks(icinga, names)
    for name in names:
        result = results[name]
        assert result["exit_status"] == 2, result
        assert result["state"] == 2, result
        assert result["output"].startswith("PRYV_CORE CRITICAL"), result["output"]
        assert "token" in result["output"].lower(), result["output"]
        # long output by default, ending with what to do (the perfdata is apart, in performance_data)
        assert result["output"].splitlines()[-1] == "what to do: " + advice.advice("access token rejected"), \
            result["output"]
        assert_no_token(sandbox, result)
    states = {n: a["last_check_result"]["state"] for n, a in icinga.services().items() if n in names}
    assert states == {n: 2 for n in names}


def test_notes_url_points_at_the_docs_the_host_names(icinga, sandbox_session):
    attrs = {r["name"]: r["attrs"] for r in icinga.get("/objects/services", attrs=["notes_url", "action_url"])}
    assert attrs["%s!pryv-core" % DNS_HOST]["notes_url"] == DOCS_URL + "/plugins.html#check-pryv-core"
    assert attrs["%s!pryv-core" % DNSLESS_HOST]["notes_url"] == ""  # its host does not say where the docs are
    assert attrs["%s!pryv-register" % DNS_HOST]["action_url"] == "https://reg.%s:%d/service/info" % (
        sandbox_session.domain, sandbox_session.http_port)


def test_icinga2_runs_the_opt_in_services(icinga, first_round, sandbox):
    """pryv-hostings, pryv-service-info and the certificate services, asked for by host variables."""
    expected = opt_in_argv(sandbox)
    results = run_checks(icinga, ["%s!%s" % key for key in expected])
    for (host, service), (command, argv) in expected.items():
        result = results["%s!%s" % (host, service)]
        assert_ok(result, command)
        assert_no_token(sandbox, result)
        assert result["command"][0] == os.path.join(plugin_dir(), COMMANDS[command])
        assert option_pairs(result["command"][1:]) == option_pairs(argv), (host, service)
        assert result["command"].count("--hosting") == argv.count("--hosting")
        certificate = any(p.startswith("certificate_days=") for p in result["performance_data"])
        assert certificate == service.endswith("certificate"), result["performance_data"]
    assert results["%s!pryv-hostings" % DNS_HOST]["output"].startswith("PRYV_REGISTER OK - 1 of 1 hosting available")
    assert results["%s!pryv-service-info" % DNSLESS_HOST]["output"].startswith(
        "PRYV_REGISTER OK - service info of 'Pryv.io sandbox' (version 1.9.3-open) matches localhost")


def parents_of(icinga, service):
    """{host: the service that `service` depends on there}, as the running icinga2 has them."""
    return {r["attrs"]["child_host_name"]: r["attrs"]["parent_service_name"] for r in icinga.get(
        "/objects/dependencies", attrs=["child_host_name", "child_service_name", "parent_service_name"])
        if r["attrs"]["child_service_name"] == service}


def test_icinga2_runs_pryv_auth_request_and_turns_critical_without_the_database(icinga, first_round, sandbox):
    """pryv-auth-request (host variable pryv_auth_request): pryv-register's command with --auth-request, OK on the
    sandbox, CRITICAL with the platform's error once its database is down; a child of pryv-register."""
    names = ["%s!pryv-auth-request" % host for host in (DNS_HOST, DNSLESS_HOST)]
    argv = {name: [*prefix, "--username", sandbox.username, *more, "--auth-request"] for name, prefix, more in (
        (names[0], dns_mode_args(sandbox), PLATFORM_TIMEOUT + ["--verbose"]),  # long output by default
        (names[1], dnsless_args(sandbox), []))}  # the DNS-less host turned the register's long output off
    results = run_checks(icinga, names)
    for name in names:
        result = results[name]
        assert (result["exit_status"], result["state"]) == (0, 0), result
        assert result["output"].startswith("PRYV_REGISTER OK - auth request answered NEED_SIGNIN, and its poll too"), \
            result["output"]
        assert result["command"][0] == os.path.join(plugin_dir(), "check_pryv_register")
        assert option_pairs(result["command"][1:]) == option_pairs(argv[name])
        assert any(p.startswith("auth_request_time=") for p in result["performance_data"]), result
    sandbox.set_faults(database="down")
    results = run_checks(icinga, names)
    assert results[names[0]]["output"].splitlines()[0].rstrip() == (  # icinga2 keeps the space before the |
        "PRYV_REGISTER CRITICAL - auth request refused: 500 INTERNAL_ERROR: Internal error")
    assert results[names[1]]["output"].startswith(
        "PRYV_REGISTER CRITICAL - auth request refused: 500 unexpected-error: An unexpected error occurred.")
    for name in names:
        assert (results[name]["exit_status"], results[name]["state"]) == (2, 2), results[name]
    assert parents_of(icinga, "pryv-auth-request") == {DNS_HOST: "pryv-register", DNSLESS_HOST: "pryv-register"}


@pytest.mark.parametrize("service", sorted(CORE_PARTS))
def test_icinga2_runs_the_core_parts(icinga, first_round, sandbox, service):
    """pryv-series, pryv-attachment, pryv-notifications (host variables pryv_series...): pryv-core's command with
    the part's option, each a child of pryv-core, OK on the sandbox on the DNS-less host (the one with the parts)."""
    option = CORE_PARTS[service]
    names = ["%s!%s" % (DNSLESS_HOST, service)]
    argv = {names[0]: dnsless_args(sandbox) + ["--username", sandbox.username, "--token-file", sandbox.token_file,
                                               "--verbose"]}
    results = run_checks(icinga, names)
    assert parents_of(icinga, service) == {DNSLESS_HOST: "pryv-core"}
    for name in names:
        assert results[name]["command"][0] == os.path.join(plugin_dir(), "check_pryv_core")
        assert option_pairs(results[name]["command"][1:]) == option_pairs(argv[name] + [option]), name
        assert_no_token(sandbox, results[name])
    for name in names:
        assert_ok(results[name], "pryv-core")


def test_register_failure_leaves_its_children_unreachable(icinga, first_round, sandbox):
    """pryv-register HARD CRITICAL: the services that need it are unreachable (no notification); a SOFT failure,
    on the other host, leaves its children reachable, as Icinga's dependencies say (ignore_soft_states)."""
    sandbox.set_faults(register="failing")
    register, dnsless_register = "%s!pryv-register" % DNS_HOST, "%s!pryv-register" % DNSLESS_HOST
    run_checks(icinga, [register, dnsless_register])
    for _ in range(2):  # max_check_attempts = 3: the third failure in a row is the HARD state
        run_checks(icinga, [register])
    children = ["%s!%s" % (DNS_HOST, s) for s in
                ("pryv-core", "pryv-hostings", "pryv-service-info", "pryv-certificate", "pryv-core-certificate")]
    results = run_checks(icinga, children + ["%s!pryv-core" % DNSLESS_HOST])
    attrs = {r["name"]: r["attrs"] for r in icinga.get("/objects/services", attrs=[
        "state", "state_type", "last_reachable", "handled", "last_check_result"])}
    assert (attrs[register]["state"], attrs[register]["state_type"]) == (2, 1)  # CRITICAL, HARD
    assert results[register.replace("register", "hostings")]["output"].startswith(
        "PRYV_REGISTER CRITICAL - register answered 500")
    assert attrs[dnsless_register]["state_type"] == 0  # SOFT: one failure only
    for name in children:
        assert attrs[name]["last_reachable"] is False, (name, attrs[name])
    assert attrs["%s!pryv-core" % DNS_HOST]["state"] == 0  # the core itself still answers
    assert attrs["%s!pryv-core" % DNSLESS_HOST]["last_reachable"] is True
    # the register-based children fail too, as often as it takes to be HARD: yet only the register notifies
    for _ in range(2):
        run_checks(icinga, children)
    attrs = {r["name"]: r["attrs"] for r in icinga.get("/objects/services", attrs=["state", "state_type"])}
    for name in children[1:4]:  # hostings, service info, the register's certificate; the core's ones stay OK
        assert (attrs[name]["state"], attrs[name]["state_type"]) == (2, 1), (name, attrs[name])
    sent = wait_until("the register's notification", lambda: icinga.notifications.exists() and
                      icinga.notifications.read_text(), icinga.daemons)
    time.sleep(1)  # a child's notification, were it sent, would come with the register's
    assert icinga.notifications.read_text().splitlines() == ["pryv-register CRITICAL"], sent


# --- check_pryv_sandbox --print-config icinga2: pasted as is into a real icinga2 -------------------------------


class PrintedSandbox(Daemon):
    """check_pryv_sandbox --print-config KIND, run as an admin runs it; `config` is what it printed."""

    def __init__(self, work, kind):
        self.work, self.kind = work, kind
        work.mkdir(parents=True, exist_ok=True)

    def start(self):
        # a state directory as an admin may name it: non-ASCII, a space, a `$` and a quote in its paths
        self.spawn([plugin_path("check_pryv_sandbox"), "--print-config", self.kind, "--state-dir",
                    str(self.work / 'état "$HOME"')])
        # stdout (the configuration) is flushed before the one line on stderr that says the sandbox runs
        text = wait_until("the sandbox's configuration", lambda: "Sandbox running" in self.log_tail(400) and
                          (self.work / "daemon.log").read_text(), [self])
        self.config = text.split("Sandbox running", 1)[0]
        return self.config

    def check_alive(self):
        if self.proc.poll() is not None:
            pytest.fail("check_pryv_sandbox exited with %s:\n%s" % (self.proc.returncode, self.log_tail()))


@pytest.fixture(scope="module")
def pasted(tmp_path_factory):
    """A master icinga2 whose only hosts are what check_pryv_sandbox --print-config icinga2 printed."""
    binary = icinga2_binary()
    work = tmp_path_factory.mktemp("icinga2-pasted")
    sandbox = PrintedSandbox(work / "sandbox", "icinga2")
    master = None
    try:
        config = sandbox.start()
        certs = make_certs(work / "certs", [MASTER]).parent
        port, = free_ports(1)
        user, password = "check_pryv", secrets.token_urlsafe(16)
        master = Icinga2(binary, work / "master", MASTER, common_header(MASTER, "master", port) + "\n".join([
            'object CheckerComponent "checker" { }',
            'object ApiUser %s { password = %s; permissions = [ "*" ] }' % (q(user), q(password)),
            'object Endpoint NodeName { }',
            'object Zone ZoneName { endpoints = [ NodeName ] }',
            'template Host "generic-host" { check_command = "dummy" }',  # the stock templates.conf's, checkless
            'include %s' % q(SHIPPED / "pryv-commands.conf"),
            'include %s' % q(SHIPPED / "pryv-services.conf"),
            config,
        ]), certs)
        master.start()
        api = Api(port, user, password, certs / "ca.crt")
        api.daemons = [master, sandbox]
        wait_until("master API", lambda: api.get("/status/IcingaApplication"), api.daemons)
        yield api
    finally:
        if master:
            master.stop()
        sandbox.stop()


def test_sandbox_config_pasted_into_icinga2_gives_every_service_ok(pasted):
    names = sorted(pasted.services())
    assert names == sorted("%s!%s" % (host, service) for host, services in (
        ("pryv-sandbox-dns-mode", ["pryv-dns", "pryv-register", "pryv-core", "pryv-hostings", "pryv-service-info",
                                   "pryv-certificate", "pryv-core-certificate", "pryv-auth-request"]),
        ("pryv-sandbox-dnsless", ["pryv-register", "pryv-core", "pryv-hostings", "pryv-service-info",
                                  "pryv-certificate", "pryv-auth-request", *CORE_PARTS])) for service in services)
    results = run_checks(pasted, names)
    for name, result in results.items():
        assert (result["exit_status"], result["state"]) == (0, 0), (name, result["output"], result["command"])
        assert result["output"].startswith("PRYV_"), result["output"]


def test_dns_failure_leaves_register_and_core_unreachable(icinga, first_round, sandbox):
    """DNS mode: pryv-dns HARD CRITICAL makes pryv-register unreachable, and through it pryv-core."""
    sandbox.set_faults(dns="nxdomain")
    dns = "%s!pryv-dns" % DNS_HOST
    for _ in range(3):  # max_check_attempts = 3
        run_checks(icinga, [dns])
    children = ["%s!pryv-register" % DNS_HOST, "%s!pryv-core" % DNS_HOST]
    run_checks(icinga, children)
    attrs = {r["name"]: r["attrs"] for r in icinga.get("/objects/services", attrs=[
        "state", "state_type", "last_reachable"])}
    assert (attrs[dns]["state"], attrs[dns]["state_type"]) == (2, 1), attrs[dns]
    for name in children:
        assert (attrs[name]["state"], attrs[name]["last_reachable"]) == (0, False), (name, attrs[name])


def test_core_down_notifies_once(icinga, first_round, sandbox):
    """DNS mode: a core that is down fails pryv-core and pryv-core-certificate (the same call); the certificate
    service needs the core, which is HARD first (its interval is a minute, the certificate's an hour): only
    pryv-core notifies."""
    run_checks(icinga, ["%s!pryv-dns" % DNS_HOST, "%s!pryv-register" % DNS_HOST])  # OK again after the tests before

    def sent():
        return icinga.notifications.read_text().splitlines() if icinga.notifications.exists() else []

    before = len(sent())
    sandbox.set_faults(core="down")
    core, certificate = "%s!pryv-core" % DNS_HOST, "%s!pryv-core-certificate" % DNS_HOST
    for names in ([core], [certificate]):
        for _ in range(3):  # max_check_attempts
            run_checks(icinga, names)
    attrs = {r["name"]: r["attrs"] for r in icinga.get("/objects/services", attrs=[
        "state", "state_type", "last_reachable"])}
    assert (attrs[core]["state"], attrs[core]["state_type"], attrs[core]["last_reachable"]) == (2, 1, True)
    assert (attrs[certificate]["state"], attrs[certificate]["state_type"]) == (2, 1), attrs[certificate]
    assert attrs[certificate]["last_reachable"] is False
    wait_until("the core's notification", lambda: "pryv-core CRITICAL" in sent()[before:], icinga.daemons)
    time.sleep(1)  # the certificate service's, were it sent, would come with it
    assert [line for line in sent()[before:] if line.startswith("pryv-core")] == ["pryv-core CRITICAL"]
