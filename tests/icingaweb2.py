"""Debian's Icinga Web 2, as .ci/icingaweb2-setup leaves it, and a browser to look at it.

.ci/icingaweb2-setup (run as root, idempotent) installs and configures Icinga Web 2 with its monitoring module on
an IDO database in PostgreSQL, apache2 on loopback, and chromium with chromium-driver and python3-selenium; it
writes the facts a test needs (the URL, the login, the IDO database's) to FACTS. Here:

- ``facts(cannot)``: those facts, once Icinga Web 2 answers and the browser is there (else ``cannot``: a skip, or
  a failure in CI);
- ``ido_connection(facts)``: the Icinga 2 objects that make a test's own icinga2 fill that IDO database (one
  icinga2 at a time: it takes the IDO's instance over);
- ``icinga2_filling_ido(facts, work, config)``: a master icinga2 (tests/test_icinga2.py's) with that connection
  and `config` (includes, hosts, more features), its API ready; it yields the API;
- ``look(facts, pages, shots)``: tests/browser.py, run by Debian's python3, logs in and reports what each page
  shows (its screenshots go to `shots`).

Other modules (graphite, the Director) are installed with ICINGAWEB2_MODULES="graphite director" .ci/icingaweb2-setup.
"""
import contextlib
import json
import os
import secrets
import subprocess
from pathlib import Path

import requests

FACTS = os.environ.get("CHECK_PRYV_ICINGAWEB2_FACTS", "/var/lib/check-pryv/icingaweb2.json")
DEBIAN_PYTHON = "/usr/bin/python3"  # python3-selenium is Debian's
BROWSER = Path(__file__).resolve().parent / "browser.py"
SETUP = "run .ci/icingaweb2-setup as root"


def facts(cannot):
    try:
        with open(FACTS) as file:
            found = json.load(file)
    except (OSError, ValueError) as error:
        cannot("Icinga Web 2 is not set up (%s: %s): %s" % (FACTS, getattr(error, "strerror", error), SETUP))
    try:
        session = requests.Session()
        session.trust_env = False  # loopback: no proxy
        session.get(found["url"] + "/authentication/login", timeout=10).raise_for_status()
    except requests.RequestException as error:
        cannot("Icinga Web 2 does not answer at %s (%s): %s (it starts PostgreSQL and apache2)" % (
            found["url"], error, SETUP))
    probe = subprocess.run([DEBIAN_PYTHON, "-c", "import selenium"], capture_output=True, text=True, timeout=60)
    if probe.returncode != 0 or not os.access("/usr/bin/chromedriver", os.X_OK):
        cannot("no browser: python3-selenium and chromium-driver are needed (%s)" % SETUP)
    return found


def ido_connection(found):
    """The IdoPgsqlConnection, in the Icinga 2 DSL, to the IDO database Icinga Web 2 reads."""
    return "\n".join([
        'library "db_ido_pgsql"',
        'object IdoPgsqlConnection "ido-pgsql" {',
        '\thost = %s; port = %d; database = %s' % (json.dumps(found["ido_host"]), found["ido_port"],
                                                   json.dumps(found["ido_database"])),
        '\tuser = %s; password = %s' % (json.dumps(found["ido_user"]), json.dumps(found["ido_password"])),
        '}',
        '',
    ])


@contextlib.contextmanager
def icinga2_filling_ido(found, work, config):
    """A master icinga2 under `work` that writes to Icinga Web 2's IDO database, with `config` after its own
    objects; yields its API (test_icinga2.Api) once it answers."""
    from test_icinga2 import MASTER, Api, Icinga2, common_header, icinga2_binary, make_certs, q, wait_until
    from daemons import free_ports

    certs = make_certs(work / "certs", [MASTER]).parent
    port, = free_ports(1)
    user, password = "check_pryv", secrets.token_urlsafe(16)
    master = Icinga2(icinga2_binary(), work / "master", MASTER, common_header(MASTER, "master", port) + "\n".join([
        'object CheckerComponent "checker" { }',
        'object ApiUser %s { password = %s; permissions = [ "*" ] }' % (q(user), q(password)),
        'object Endpoint NodeName { }',
        'object Zone ZoneName { endpoints = [ NodeName ] }',
        ido_connection(found),
        config,
    ]), certs)
    try:
        master.start()
        api = Api(port, user, password, certs / "ca.crt")
        api.daemons = [master]
        wait_until("master API", lambda: api.get("/status/IcingaApplication"), api.daemons)
        yield api
    finally:
        master.stop()


def look(found, pages, shots, timeout=90):
    """What each page shows ({name: ...}, see tests/browser.py), once it shows its `wait_for` texts."""
    Path(shots).mkdir(parents=True, exist_ok=True)
    job = {"url": found["url"], "user": found["web_user"], "password": found["web_password"], "shots": str(shots),
           "timeout": timeout, "pages": pages}
    proc = subprocess.run([DEBIAN_PYTHON, str(BROWSER)], input=json.dumps(job), capture_output=True, text=True,
                          timeout=timeout * (len(pages) + 1) + 60)
    if proc.returncode != 0:
        raise AssertionError("the browser failed (%d):\n%s%s" % (proc.returncode, proc.stdout, proc.stderr[-3000:]))
    return json.loads(proc.stdout)
