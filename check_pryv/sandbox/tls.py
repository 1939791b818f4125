"""The HTTPS server's certificate, from a throwaway CA (trustme, imported only when HTTPS needs it)."""

from __future__ import annotations

import datetime
import ssl


class TLSUnavailable(RuntimeError):
    """HTTPS cannot be served: trustme is missing."""


def server_context(names, cert_days=None):
    """(a server TLS context for `names`, its CA certificate as PEM bytes); the certificate ends `cert_days`
    days from now (None: trustme's default, the year 3000)."""
    try:
        import trustme  # only HTTPS needs it: plain-HTTP sandboxes run without
    except ImportError as error:  # installed without the sandbox extra
        raise TLSUnavailable("HTTPS needs the trustme package, which is not installed: "
                             "pip install 'check_pryv[sandbox]', or run with --scheme http") from error

    ca = trustme.CA(organization_name="check_pryv sandbox")
    expiry = {}
    if cert_days is not None:  # UTC, naive, as trustme's own default
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)
        not_after = now + datetime.timedelta(days=cert_days)
        expiry = {"not_after": not_after, "not_before": min(now, not_after) - datetime.timedelta(days=1)}
    certificate = ca.issue_cert(*names, **expiry)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    certificate.configure_cert(context)
    return context, ca.cert_pem.bytes()
