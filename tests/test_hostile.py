"""Issue 21, tried as an attacker would, round 3: hostile registers and cores on loopback (tests/faultservers.py).

The write path's one-event contract (an event of another stream, odd event ids, concurrent runs), pieces of
secrets, URLs that apps read otherwise than Python, a trust store that blocks, and UTCTime years. Each test runs
the installed command and checks the exact state and words a user reads, with no traceback and no secret.
"""
import datetime
import json
import re
import subprocess

import pytest

from check_pryv.register_info import same_url
from conftest import cannot, run_plugin
from faultservers import HTTPFault, answer, json_answer, pryv_ok
from realserver import BUILD
from test_hardening import clean, first_line

NODE = BUILD / "node" / "bin" / "node"


# --- 9: UTCTime years 50-99 are 19YY, 00-49 20YY (RFC 5280) -----------------------------------------------

def tls_server_context(tmp_path, not_before, not_after):
    """A server context whose self-signed certificate has this validity (cryptography writes UTCTime before 2050)."""
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "reg.pryv.test")])
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(1).not_valid_before(not_before).not_valid_after(not_after)
                   .sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                         serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))
    return context


def utc(year, month=1, day=1):
    return datetime.datetime(year, month, day, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize("not_after, code, words", [
    (utc(1968, 6, 30), 2, "CRITICAL - register knows healthmetrics01 (200 in {}s); certificate expired {} days ago "
                          "(1968-06-30)"),
    (utc(1950, 1, 2), 2, "CRITICAL - register knows healthmetrics01 (200 in {}s); certificate expired {} days ago "
                         "(1950-01-02)"),
    (utc(2049, 12, 31), 0, "OK - register knows healthmetrics01 (200 in {}s)"),
])
def test_certificate_utctime_years_follow_rfc_5280(tmp_path, not_after, code, words):
    with HTTPFault(answer(pryv_ok), tls_server_context(tmp_path, utc(1950), not_after)) as server:
        result = run_plugin("check_pryv_register", "-D", "pryv.test", "-I", "127.0.0.1", "-p", str(server.port),
                            "--insecure", "--certificate-days", "30", "-t", "3", "-v")
    clean(result)
    pattern = re.escape("PRYV_REGISTER " + words).replace(re.escape("{}"), "[0-9.]+")
    assert re.fullmatch(pattern, first_line(result)), result.stdout
    assert "certificate expires: %s" % not_after.strftime("%Y-%m-%dT%H:%M:%SZ") in result.stdout
    assert result.returncode == code, result.stdout


# --- 4: a service-info URL that apps read otherwise never "matches" ---------------------------------------

def service_info(register_url, port):
    return {"name": "Pryv Lab", "api": "http://127.0.0.1:%d/{username}/" % port, "register": register_url % port,
            "access": "http://127.0.0.1/access", "version": "1.9.0"}


@pytest.mark.parametrize("register_url, why", [
    ("http://evil.example\\@127.0.0.1:%d/reg/", "a backslash, which apps read as /"),
    ("http://evil.example@127.0.0.1:%d/reg/", "user info before the host"),
    ("http://127.0.0.1:%d/x/../reg/", "a dot segment, which apps remove"),
    ("http://127.0.0.1:%d/reg/%%2e%%2e/", "characters apps may read otherwise"),
    ("http://127.0.0.1:%d/reg/\t", "characters apps may read otherwise"),
])
def test_service_info_url_that_apps_read_otherwise_does_not_match(register_url, why):
    with HTTPFault(answer(lambda request: json_answer(200, service_info(register_url, port)))) as server:
        port = server.port
        result = run_plugin("check_pryv_register", "-H", "127.0.0.1", "-p", str(port), "--scheme", "http",
                            "--service-info", "-t", "3")
    shown = " ".join((register_url % port).split())
    assert first_line(result) == ("PRYV_REGISTER CRITICAL - service info of 'Pryv Lab' (version 1.9.0) does not "
                                  "match 127.0.0.1: register %s (%s)" % (shown, why)), result.stdout
    assert result.returncode == 2
    clean(result)


# URLs a register may write, for the expected http://pryv.test:8080/reg/ (or with {username}); same_url may say
# "the same" only when Node's WHATWG URL (the JS client's parser) reads that very scheme, host, port and path.
WHATWG_CASES = [
    "http://pryv.test:8080/reg/", "http://PRYV.test:8080/reg", "http://pryv.test/reg/", "HTTP://pryv.test:8080/reg/",
    "http://pryv.test.:8080/reg/", "http://pryv.test:08080/reg/", "http://pryv.test:8080//reg/",
    "http://evil.example\\@pryv.test:8080/reg/", "http://x@pryv.test:8080/reg/", "http://:@pryv.test:8080/reg/",
    "http://pryv.test:8080\\@evil.example/reg/", "http:/pryv.test:8080/reg/", "http:pryv.test:8080/reg/",
    "http:\\\\pryv.test:8080/reg/", "http://pryv.test:8080/reg/%2e%2e/reg/", "http://pryv.test:8080/x/../reg/",
    " http://pryv.test:8080/reg/", "http://pryv.test:8080/reg/\n", "http://pry\tv.test:8080/reg/",
    "http://pryv%2etest:8080/reg/", "http://pryv.test:8080/reg/?x", "http://pryv.test:8080/reg/#x",
    "http://pryv.test:8080/./reg/", "http://pryv.test:8080/reg/.", "http://[::1]:8080/reg/",
    "http://pryv.test:8080@evil.example/reg/", "http://pryv.test%40evil.example:8080/reg/",
    "http://pryv.test:8080/re%67/", "http://xn--pryv-test:8080/reg/", "http://pryv.test:8080/{username}/",
    "http://{username}.pryv.test:8080/",
]


def whatwg(urls):
    """How Node's WHATWG URL reads each URL: [protocol, hostname, port, pathname, user info + search + hash], or None
    when it refuses it."""
    if not NODE.exists():
        cannot("Node is not built in %s (the real server's build)" % NODE.parent)
    script = ("console.log(JSON.stringify(JSON.parse(process.argv[1]).map(u => { try { const p = new URL(u);"
              " return [p.protocol, p.hostname, p.port, p.pathname, p.username + p.password + p.search + p.hash] }"
              " catch (e) { return null } })))")
    done = subprocess.run([str(NODE), "-e", script, json.dumps(urls)], capture_output=True, text=True, timeout=30)
    return json.loads(done.stdout)


def test_same_url_agrees_with_the_apps_whatwg_parser():
    expectations = {"http://pryv.test:8080/reg/": ("pryv.test", "/reg"),
                    "http://pryv.test:8080/{username}/": ("pryv.test", "/alice"),
                    "http://{username}.pryv.test:8080/": ("alice.pryv.test", "")}
    apps = whatwg([url.replace("{username}", "alice") for url in WHATWG_CASES])  # as an app fills the template
    matched = set()
    for url, app in zip(WHATWG_CASES, apps):
        for expected, (host, path) in expectations.items():
            if same_url(url, expected, 8080):
                matched.add(url)
                assert app is not None and app[0] == "http:" and app[1].rstrip(".") == host, (url, app)
                assert app[2] in ("8080", "") and app[3].rstrip("/") == path and app[4] == "", (url, app)
    assert {"http://pryv.test:8080/reg/", "http://PRYV.test:8080/reg", "http://pryv.test/reg/",
            "HTTP://pryv.test:8080/reg/", "http://pryv.test.:8080/reg/", "http://pryv.test:8080/{username}/",
            "http://{username}.pryv.test:8080/"} <= matched, matched
    assert not {"http://evil.example\\@pryv.test:8080/reg/", "http://x@pryv.test:8080/reg/",
                "http://pryv.test:8080/x/../reg/"} & matched
