"""Shared fixtures: one real sandbox platform on loopback, and the plugins run as real processes."""
import os
import shutil
import subprocess
import sys

import pytest

from check_pryv.sandbox import Sandbox
from realserver import running_real_dns, running_real_server

# CI sets this so that an integration test whose daemon is missing fails instead of skipping.
REQUIRE_DAEMONS = os.environ.get("CHECK_PRYV_REQUIRE_DAEMONS") == "1"


def cannot(message):
    """Skip an integration test that cannot run, or fail it when CI forbids the skip."""
    if REQUIRE_DAEMONS:
        pytest.fail(message + " (CHECK_PRYV_REQUIRE_DAEMONS=1 forbids skipping)")
    pytest.skip(message)


def require_binary(path):
    """Return the path of a daemon's binary; skip without it, or fail when CI forbids the skip."""
    found = shutil.which(path) or (path if os.access(path, os.X_OK) else None)
    if not found:
        cannot("%s is not installed" % path)
    return found


# CI sets it to the installed .deb's /usr/lib/nagios/plugins: the tests then run the package's plugins, on Debian's
# python3 and libraries, instead of the virtualenv's scripts.
PLUGIN_DIR = os.environ.get("CHECK_PRYV_PLUGIN_DIR")


def plugin_path(name):
    """The installed console script of a plugin (tests run what operators run)."""
    if PLUGIN_DIR:  # the package's plugins there; its other commands (check_pryv_setup) on PATH
        script = os.path.join(PLUGIN_DIR, name)
        script = script if os.access(script, os.X_OK) else shutil.which(name)
        if not script:
            pytest.fail("%s is neither in CHECK_PRYV_PLUGIN_DIR=%s nor on PATH: is the .deb installed?"
                        % (name, PLUGIN_DIR))
        return script
    script = os.path.join(os.path.dirname(sys.executable), name)
    if not os.access(script, os.X_OK):
        pytest.fail("%s is not installed next to %s: pip install -e .[test]" % (name, sys.executable))
    return script


def run_plugin(name, *args, env=None, timeout=30):
    """Run an installed plugin in a subprocess; return the CompletedProcess (text mode). `env` adds variables
    to ours; one set to None is removed."""
    full_env = {k: v for k, v in os.environ.items() if k != "PRYV_ACCESS_TOKEN"}
    full_env.update(env or {})
    full_env = {k: v for k, v in full_env.items() if v is not None}
    return subprocess.run([plugin_path(name), *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="session")
def sandbox_session(tmp_path_factory):
    with Sandbox(state_dir=str(tmp_path_factory.mktemp("sandbox"))) as sb:
        yield sb


@pytest.fixture(scope="session")
def real_server():
    """The real Pryv.io server behind nginx's TLS, for the session: see tests/realserver.py for its interface."""
    with running_real_server(cannot) as server:
        yield server


@pytest.fixture(scope="module")
def real_dns(real_server):
    """The real server's own DNS code beside its DNS-less core: see tests/realserver.py. One per test module:
    started before a module's account was created, it answered that account NOERROR with no record (seen when
    test_platform_real_server started it first), so each module starts its own once its accounts exist."""
    with running_real_dns(real_server, cannot) as dns:
        yield dns


@pytest.fixture
def sandbox(sandbox_session):
    """The HTTPS sandbox, with no fault and its initial data, for each test."""
    sandbox_session.reset()
    yield sandbox_session
    sandbox_session.reset()


def tls_args(sb):
    return ["--ca-cert", sb.ca_file] if sb.scheme == "https" else ["--scheme", "http"]


def dns_mode_args(sb):
    """Connection options for DNS mode: reg.DOMAIN and USER.DOMAIN reached at 127.0.0.1."""
    return ["--domain", sb.domain, "--address", "127.0.0.1", "--port", str(sb.http_port)] + tls_args(sb)


def dnsless_args(sb):
    return ["--hostname", sb.hostname, "--port", str(sb.http_port)] + tls_args(sb)
