"""A local stand-in for a Pryv.io platform: register, core and DNS on 127.0.0.1.

It answers as the real platform does (service-register 1.9 for the DNS-mode register, open-pryv.io v2
for the cores and the DNS-less register), from in-memory data: one health account with one shared
access, whose token the plugins read from a file. Faults (a dead core, a rejected token, a silent DNS...) are switched on
with ``Sandbox.set_faults``, the ``/_sandbox/faults`` endpoint or ``--fault NAME=VALUE``.

    with Sandbox(state_dir="/tmp/sb") as sb:
        sb.set_faults(core="down")
        ...  # https://127.0.0.1:sb.http_port/ (CA: sb.ca_file), DNS on 127.0.0.1:sb.dns_port

Modules, one per part of the platform: ``platform`` (the Sandbox: state, routing, start/stop),
``register``, ``core`` (accounts, accesses, events, login), ``dns``, ``tls``, ``faults``,
``messages`` (requests, replies, error bodies), ``server`` (the sockets) and ``command``
(check_pryv_sandbox). Stdlib and dnspython only; trustme is imported when HTTPS needs a certificate.
"""

from .command import main
from .core import CORE_ROUTES
from .faults import check_fault
from .platform import Sandbox
from .register import DNSLESS_REGISTER_ROUTES, SR_ROUTES

__all__ = ["CORE_ROUTES", "DNSLESS_REGISTER_ROUTES", "SR_ROUTES", "Sandbox", "check_fault", "main"]
