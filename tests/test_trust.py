"""The TLS trust of a call is --ca-cert's alone, whatever the HTTP libraries add by default.

Debian 12's urllib3 1.26 gives every HTTPS pool its system bundle (/etc/ssl/certs/ca-certificates.crt) as
ca_certs: loaded into the plugin's context at connect, it would trust every public CA beside --ca-cert (and
reload some 140 certificates inside the timed call). CI runs this under Debian's python3 too.
"""
from check_pryv import options
from check_pryv.client import Client
from check_pryv.deadline import Deadline


def test_call_with_ca_cert_trusts_that_ca_alone(sandbox):
    tls = options.tls_context(sandbox.ca_file, insecure=False)
    assert tls.cert_store_stats()["x509_ca"] == 1
    answer = Client(Deadline(10), tls, address="127.0.0.1").request(
        "GET", "https://reg.%s:%d/hostings" % (sandbox.domain, sandbox.http_port))
    assert answer.status == 200
    assert tls.cert_store_stats()["x509_ca"] == 1  # still the sandbox's CA only, after the call
