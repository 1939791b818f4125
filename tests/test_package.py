"""The installed Debian package, as an admin on Debian 12 meets it: where its files are, and Debian's stock Icinga 2
and Nagios configurations picking them up with nothing edited.

CI builds the .deb (.ci/build-deb) and installs it with apt-get before the tests; elsewhere they skip without it.
The runs of the installed plugins are the icinga2, nagios and nrpe tests with CHECK_PRYV_PLUGIN_DIR set.
"""
import re
import subprocess
from pathlib import Path

import pytest

from conftest import cannot, require_binary
from test_icinga2 import by_type, stock_icinga2, validate  # noqa: F401 (a fixture)

REPO = Path(__file__).resolve().parent.parent
PLUGINS = ("check_pryv_dns", "check_pryv_register", "check_pryv_core", "check_pryv_platform")
COMMANDS = PLUGINS + ("check_pryv_setup", "check_pryv_sandbox")
EXAMPLES = Path("/usr/share/doc/check-pryv/examples")
ITL_FILE = Path("/usr/share/icinga2/include/plugins-contrib.d/pryv-commands.conf")
NAGIOS_FILE = Path("/etc/nagios-plugins/config/pryv.cfg")


@pytest.fixture(scope="module")
def installed():
    """The package's file list (dpkg -L)."""
    listing = subprocess.run(["dpkg", "-L", "check-pryv"], capture_output=True, text=True, timeout=30)
    if listing.returncode != 0:
        cannot("the check-pryv package is not installed (bash .ci/build-deb, then apt-get install ./build/deb/*.deb)")
    return set(listing.stdout.split())


def test_package_puts_each_file_where_debian_looks(installed):
    expected = {"/usr/lib/nagios/plugins/" + p for p in PLUGINS}  # Icinga's PluginDir, Nagios's $USER1$
    expected |= {"/usr/bin/" + c for c in COMMANDS}  # the plugins linked there: on the admin's PATH too
    expected |= {"/usr/share/man/man1/%s.1.gz" % c for c in COMMANDS}
    expected |= {"/usr/share/doc/check-pryv/copyright", "/usr/share/doc/check-pryv/changelog.gz"}  # LICENSE, NEWS
    expected |= {str(ITL_FILE), str(NAGIOS_FILE), str(EXAMPLES / "nrpe" / "pryv.cfg"),
                 str(EXAMPLES / "icinga2" / "pryv-services.conf"), str(EXAMPLES / "icinga2" / "pryv-hosts.conf.example"),
                 str(EXAMPLES / "nagios" / "pryv-services.cfg.example"),
                 "/usr/lib/python3/dist-packages/check_pryv/check_core.py",
                 "/usr/share/doc/check-pryv/html/plugins.html", "/usr/share/doc/check-pryv/html/faults.html"}
    assert sorted(expected - installed) == []


def test_package_files_are_the_tested_ones(installed):
    """The other tests run the repository's files: the package must ship those, Nagios's on Debian's $USER1$."""
    assert ITL_FILE.read_text() == (REPO / "icinga2" / "pryv-commands.conf").read_text()
    shipped = (REPO / "nagios" / "pryv-commands.cfg").read_text()
    assert NAGIOS_FILE.read_text() == re.sub(r"(?m)^( *command_line.*)", lambda m: m.group(1).replace(
        "$USER10$", "$USER1$"), shipped)  # the command lines only: the comments explain the change
    assert "in place of $USER10$" in NAGIOS_FILE.read_text()


def test_package_html_docs_have_the_sections_notes_url_points_at(installed):
    page = Path("/usr/share/doc/check-pryv/html/plugins.html").read_text()
    for anchor in ("check-pryv-dns", "check-pryv-register", "check-pryv-core", "hostings", "service-info",
                   "certificate-expiry"):
        assert 'id="%s"' % anchor in page, anchor
    assert 'href="faults.html#' in page  # links between the pages follow them into HTML
    assert (EXAMPLES / "nrpe" / "pryv.cfg").read_text() == (REPO / "nrpe" / "pryv.cfg").read_text()
    assert (EXAMPLES / "icinga2" / "pryv-services.conf").read_text() == (
        REPO / "icinga2" / "pryv-services.conf").read_text()


def test_installed_plugins_run_on_debians_python_and_libraries(installed):
    for plugin in PLUGINS:
        with open("/usr/lib/nagios/plugins/" + plugin, encoding="utf-8") as script:
            assert script.readline().strip() == "#!/usr/bin/python3", plugin
    where = subprocess.run(["/usr/bin/python3", "-c", "import check_pryv, nagiosplugin, requests, dns.query\n"
                            "for m in (check_pryv, nagiosplugin, requests, dns): print(m.__file__)"],
                           capture_output=True, text=True, timeout=30, cwd="/")
    assert where.returncode == 0, where.stderr
    assert [line.startswith("/usr/lib/python3/dist-packages/") for line in where.stdout.split()] == [True] * 4, \
        where.stdout


def test_stock_icinga2_gives_a_host_its_pryv_services_from_vars_alone(installed, tmp_path, stock_icinga2):
    """Debian's own icinga2.conf (include <plugins-contrib>), the shipped services example, a host with vars."""
    conf = tmp_path / "icinga2.conf"
    conf.write_text("\n".join([
        'include "%s"' % (stock_icinga2 / "icinga2.conf"),
        'include "%s"' % (EXAMPLES / "icinga2" / "pryv-services.conf"),
        'object Host "pryv.example.com" {',
        '  import "generic-host"',
        '  address = "reg.pryv.example.com"',
        '  vars.pryv_domain = "pryv.example.com"',
        '  vars.pryv_core_token_file = "/etc/icinga2/pryv/pryv.example.com.token"',
        '}', '']))
    objects = validate(require_binary("/usr/sbin/icinga2"), tmp_path, conf)
    services = {name: spec["check_command"] for name, spec in by_type(objects, "Service").items()
                if name.startswith("pryv.example.com!pryv-")}  # the stock conf.d also gives it ping4
    assert services == {"pryv.example.com!pryv-dns": "pryv-dns", "pryv.example.com!pryv-register": "pryv-register",
                        "pryv.example.com!pryv-core": "pryv-core"}
    commands = by_type(objects, "CheckCommand")
    for command, plugin in (("pryv-dns", "check_pryv_dns"), ("pryv-register", "check_pryv_register"),
                            ("pryv-core", "check_pryv_core")):
        assert commands[command]["command"] == ["/usr/lib/nagios/plugins/" + plugin]


def test_stock_nagios_loads_the_packaged_commands(installed):
    nagios = require_binary("/usr/sbin/nagios4")
    checked = subprocess.run([nagios, "-v", "/etc/nagios4/nagios.cfg"], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout
    assert "Total Errors:   0" in checked.stdout
    lines = [line.split(None, 1)[1] for line in NAGIOS_FILE.read_text().splitlines()
             if line.strip().startswith("command_line")]
    assert len(lines) == 7 and all(line.startswith("$USER1$/check_pryv_") for line in lines), lines
