"""Which certificates the HTTP plugins trust without --ca-cert: the system's store, read through its hashed
directory (SSL_CERT_DIR) and, when set, SSL_CERT_FILE, as OpenSSL's default paths say.

The "system store" here is a private directory named as `openssl rehash` names it, never the machine's own
/etc/ssl/certs; SSL_CERT_FILE is unset (as on a stock Debian) unless a test sets it.
"""
import shutil
import subprocess

import pytest
import trustme

from check_pryv.options import is_hashed_name, tls_context
from conftest import dns_mode_args, dnsless_args, require_binary, run_plugin


def system_store(tmp_path, *pems):
    """A hashed certificate directory holding the CA certificates `pems` (paths), like /etc/ssl/certs."""
    store = tmp_path / "certs"
    store.mkdir()
    for number, pem in enumerate(pems):
        shutil.copy(pem, store / ("ca-%d.pem" % number))
    subprocess.run([require_binary("openssl"), "rehash", str(store)], check=True, capture_output=True)
    return str(store)


def unknown_ca(tmp_path):
    path = tmp_path / "unknown-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return str(path)


def without_ca_cert(args, sandbox):
    return [a for a in args if a not in ("--ca-cert", sandbox.ca_file)]


def test_rehash_names_the_store(sandbox, tmp_path):
    """The fixture itself: a store holds its certificates under hashed names, the only ones OpenSSL reads."""
    store = system_store(tmp_path, sandbox.ca_file)
    names = {p.name for p in (tmp_path / "certs").iterdir()}
    hashed = names - {"ca-0.pem"}
    assert "ca-0.pem" in names and len(hashed) == 1 and is_hashed_name(hashed.pop()), (store, names)


@pytest.mark.parametrize("mode", [dns_mode_args, dnsless_args], ids=["dns-mode", "dns-less"])
def test_ca_only_in_the_system_store_verifies(sandbox, tmp_path, mode):
    store = system_store(tmp_path, unknown_ca(tmp_path), sandbox.ca_file)
    result = run_plugin("check_pryv_register", *without_ca_cert(mode(sandbox), sandbox),
                        env={"SSL_CERT_DIR": store, "SSL_CERT_FILE": None})
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith("PRYV_REGISTER OK - register knows healthmetrics01 (200 in "), result.stdout
    assert result.stderr == ""


def test_core_with_ca_only_in_the_system_store_verifies(sandbox, tmp_path):
    store = system_store(tmp_path, sandbox.ca_file)
    result = run_plugin("check_pryv_core", *without_ca_cert(dns_mode_args(sandbox), sandbox),
                        "--token-file", sandbox.token_file, env={"SSL_CERT_DIR": store, "SSL_CERT_FILE": None})
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith("PRYV_CORE OK - "), result.stdout


def test_ca_unknown_to_the_system_store_fails_at_tls(sandbox, tmp_path):
    store = system_store(tmp_path, unknown_ca(tmp_path))
    result = run_plugin("check_pryv_register", *without_ca_cert(dns_mode_args(sandbox), sandbox),
                        env={"SSL_CERT_DIR": store, "SSL_CERT_FILE": None})
    assert result.returncode == 2, result.stdout
    assert result.stdout.startswith(
        "PRYV_REGISTER CRITICAL - TLS handshake with reg.pryv.test:%d (127.0.0.1) failed: certificate verify "
        "failed: unable to get local issuer certificate | time=" % sandbox.http_port), result.stdout


def test_ssl_cert_file_is_still_honoured(sandbox, tmp_path):
    """A bundle named by SSL_CERT_FILE is trusted next to the directory, as OpenSSL's default paths do."""
    store = system_store(tmp_path, unknown_ca(tmp_path))
    result = run_plugin("check_pryv_register", *without_ca_cert(dnsless_args(sandbox), sandbox),
                        env={"SSL_CERT_DIR": store, "SSL_CERT_FILE": sandbox.ca_file})
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith("PRYV_REGISTER OK - register knows healthmetrics01 (200 in "), result.stdout


def test_missing_ssl_cert_file_adds_nothing_and_breaks_nothing(sandbox, tmp_path):
    store = system_store(tmp_path, sandbox.ca_file)
    result = run_plugin("check_pryv_register", *without_ca_cert(dnsless_args(sandbox), sandbox),
                        env={"SSL_CERT_DIR": store, "SSL_CERT_FILE": str(tmp_path / "no-such-bundle.pem")})
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith("PRYV_REGISTER OK - register knows healthmetrics01 (200 in "), result.stdout


def test_ca_cert_replaces_the_system_store(sandbox, tmp_path):
    """--ca-cert is the whole trust: a CA in the system store alone no longer verifies the server."""
    store = system_store(tmp_path, sandbox.ca_file)
    args = dns_mode_args(sandbox)
    args[args.index("--ca-cert") + 1] = unknown_ca(tmp_path)
    result = run_plugin("check_pryv_register", *args, env={"SSL_CERT_DIR": store, "SSL_CERT_FILE": None})
    assert result.returncode == 2, result.stdout
    assert "failed: certificate verify failed: unable to get local issuer certificate | time=" in result.stdout


def test_plain_http_makes_no_tls_context():
    assert tls_context(None, False, "http") is None
    assert tls_context(None, True, "http") is None


def test_a_call_adds_no_ca_to_the_trust(sandbox):
    """The pool must not load a CA bundle of its own into the context (Debian's urllib3 1.26 defaults one):
    after a verified call the context still holds the one CA of --ca-cert."""
    from check_pryv.client import Client, Target
    from check_pryv.deadline import Deadline

    context = tls_context(sandbox.ca_file, False)
    target = Target(domain=sandbox.domain, port=sandbox.http_port)
    answer = Client(Deadline(10), context, address="127.0.0.1").request(
        "GET", target.register_url("%s/check_username" % sandbox.username))
    assert answer.status == 200
    assert context.cert_store_stats()["x509_ca"] == 1


def test_ip_address_host_name_verifies_against_the_certificate_ip(sandbox):
    """DNS-less with an IP address as host name: on Debian's urllib3 1.26 this once ended in "internal error:
    ValueError: check_hostname requires server_hostname" (it gives Python no host name for an IP address)."""
    args = ["--hostname", "127.0.0.1", "--port", str(sandbox.http_port), "--ca-cert", sandbox.ca_file]
    result = run_plugin("check_pryv_register", *args)
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith("PRYV_REGISTER OK - register knows healthmetrics01 (200 in "), result.stdout


def test_ip_address_not_in_the_certificate_fails_at_tls(sandbox):
    """...and an address the certificate does not name is still refused, whichever urllib3 matches it."""
    args = ["--hostname", "127.0.0.2", "--address", "127.0.0.1", "--port", str(sandbox.http_port),
            "--ca-cert", sandbox.ca_file]
    result = run_plugin("check_pryv_register", *args)
    assert result.returncode == 2, result.stdout
    assert result.stdout.startswith("PRYV_REGISTER CRITICAL - TLS handshake with 127.0.0.2:%d (127.0.0.1) failed: "
                                    % sandbox.http_port), result.stdout
    assert ("IP address mismatch, certificate is not valid for '127.0.0.2'" in result.stdout
            or "hostname '127.0.0.2' doesn't match" in result.stdout), result.stdout
