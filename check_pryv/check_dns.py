"""check_pryv_dns: does the platform's DNS answer USER.DOMAIN?

Asks for USERNAME.DOMAIN (the register's DNS answers a CNAME to the user's core, then the core's address)
and follows CNAMEs to the addresses. Without --server it asks the system's name servers
(/etc/resolv.conf); each server is tried in turn, with its share of the time left, until one gives a
definite answer. A truncated UDP answer is asked again over TCP.

States: OK when addresses are found (and all of them are among --expected-address, when given);
CRITICAL on NXDOMAIN, on NOERROR with no answer (what the register answers for an unknown user), SERVFAIL,
REFUSED, no answer in time, or an address not expected. Perfdata: `time` (seconds, all queries).
"""
import contextlib
import ipaddress
import socket
import sys
import time

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import nagiosplugin

from check_pryv import options, plugin
from check_pryv.deadline import DeadlineExceeded


@contextlib.contextmanager
def hidden(module):
    """`import module` fails inside (a None in sys.modules), unless it is already loaded."""
    if module in sys.modules:
        yield
        return
    sys.modules[module] = None
    try:
        yield
    finally:
        del sys.modules[module]


# dnspython before 2.4 (Debian 12's 2.3) loads requests and urllib3 with dns.query, for DNS over HTTPS that
# this plugin never asks: without requests, dns.query just has no DoH, and the plugin starts lean.
with hidden("requests"):
    import dns.query  # noqa: E402

SERVICE = "PRYV_DNS"
MAX_CNAMES = 8
NO_ANSWER = "no answer in time"
SHOWN_ADDRESSES = 3  # on the first line; the long output has them all


class Lookup:
    """What the DNS said: the addresses, the CNAME chain, the server, or what went wrong."""

    def __init__(self, name, record_type, port):
        self.name, self.record_type, self.port = name, record_type, port
        self.addresses, self.chain, self.server = [], [], None
        self.rcode, self.problem, self.elapsed, self.tried = None, None, 0.0, []

    def details(self):
        lines = ["query: %s %s, port %d" % (self.name, self.record_type, self.port)]
        lines += ["asked %s%s: %s" % (server, "" if question == self.name else " for " + question, outcome)
                  for server, question, outcome in self.tried]
        if self.chain:
            lines.append("CNAME chain: %s" % " -> ".join([self.name] + self.chain))
        if len(self.addresses) > SHOWN_ADDRESSES:
            lines.append("addresses: %s" % ", ".join(self.addresses))
        lines.append("time: %.3fs" % self.elapsed)
        return lines


def _ask(query, server, port, timeout):
    """One query over UDP, again over TCP when the answer is truncated; returns (response, how)."""
    expires = time.monotonic() + timeout
    # A connected UDP socket hears the ICMP "port unreachable" of a closed port: refused at once, no timeout.
    with socket.socket(socket.AF_INET6 if ":" in server else socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        sock.connect((server, port))
        response = dns.query.udp(query, server, port=port, timeout=timeout, sock=sock)
    if response.flags & dns.flags.TC:
        try:
            response = dns.query.tcp(query, server, port=port, timeout=max(0.01, expires - time.monotonic()))
        except EOFError:  # dnspython's word for a connection closed before the answer's length
            raise TcpRetryFailed("truncated over UDP, and the TCP retry was closed without an answer")
        except dns.exception.Timeout:
            raise TcpRetryFailed("truncated over UDP, and no answer over TCP in time")
        except OSError as error:
            raise TcpRetryFailed("truncated over UDP, and the TCP retry failed: %s" % _failure(error))
        return response, " over TCP (the UDP answer was truncated)"
    return response, ""


class TcpRetryFailed(dns.exception.DNSException):
    """A truncated UDP answer that TCP could not complete: this server has no usable answer, the next may."""


def _failure(error):
    """Why a server gave no answer, in a few words."""
    if isinstance(error, (dns.exception.Timeout, DeadlineExceeded)):
        return NO_ANSWER
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return str(error) or type(error).__name__


def _follow(response, name, rdtype):
    """The CNAME chain from `name` and the addresses at its end, as found in the answer section."""
    chain, addresses = [], []
    for _ in range(MAX_CNAMES):
        cname = response.get_rrset(response.answer, name, dns.rdataclass.IN, dns.rdatatype.CNAME)
        if cname is None:
            break
        name = cname[0].target
        chain.append(name.to_text(omit_final_dot=True))
    found = response.get_rrset(response.answer, name, dns.rdataclass.IN, rdtype)
    if found is not None:
        addresses = [rdata.address for rdata in found]
    return name, chain, addresses


class Resolution(nagiosplugin.Resource):
    """Measures: what the name servers answer for USER.DOMAIN, and how long it took."""

    def __init__(self, name, servers, port, record_type, deadline):
        self.lookup = Lookup(name, record_type, port)
        self.servers, self.deadline = servers, deadline
        # dnspython imports a record type's module when it first parses one: do it before the clock starts.
        for rdtype in (dns.rdatatype.CNAME, dns.rdatatype.from_text(record_type)):
            dns.rdata.get_rdata_class(dns.rdataclass.IN, rdtype)

    def probe(self):
        started = time.monotonic()
        try:
            with self.deadline.alarm():
                self._resolve()
        except DeadlineExceeded:
            self.lookup.problem = NO_ANSWER
        finally:
            self.lookup.elapsed = time.monotonic() - started
        if self.lookup.problem == NO_ANSWER:  # worded once the time it took is known, as perfdata shows it
            self.lookup.problem = "no answer from %s after %.2fs" % (", ".join(self.servers), self.lookup.elapsed)
        yield nagiosplugin.Metric("dns", self.lookup, context="dns")
        yield nagiosplugin.Metric("time", plugin.perf_seconds(self.lookup.elapsed), "s", min=0,
                                  max=self.deadline.seconds, context="time")

    def _resolve(self):
        lookup, rdtype = self.lookup, dns.rdatatype.from_text(self.lookup.record_type)
        name = dns.name.from_text(lookup.name)
        for _ in range(MAX_CNAMES):
            question, outcomes = name.to_text(omit_final_dot=True), []
            for index, server in enumerate(self.servers):
                query = dns.message.make_query(name, rdtype)
                try:  # each server gets its share of the time left: a silent first one leaves time to the next
                    response, how = _ask(query, server, lookup.port,
                                         self.deadline.remaining() / (len(self.servers) - index))
                except (dns.exception.DNSException, OSError, DeadlineExceeded) as error:
                    failure = _failure(error)
                    lookup.tried.append((server, question, failure))
                    outcomes.append((server, failure))
                    if isinstance(error, DeadlineExceeded):
                        raise
                    continue
                rcode = dns.rcode.to_text(response.rcode())
                lookup.tried.append((server, question, rcode + how))
                outcomes.append((server, rcode))
                if response.rcode() in (dns.rcode.SERVFAIL, dns.rcode.REFUSED):
                    continue  # this server cannot say; another one may
                lookup.server, lookup.rcode = server, rcode
                if response.rcode() != dns.rcode.NOERROR:
                    return
                name, chain, lookup.addresses = _follow(response, name, rdtype)
                lookup.chain += chain
                if lookup.addresses or not chain:
                    return
                break  # the chain leaves the answer: ask for its end
            else:
                if all(outcome == NO_ANSWER for _, outcome in outcomes):
                    lookup.problem = NO_ANSWER
                else:
                    lookup.problem = "no usable answer: %s" % "; ".join(
                        "%s from %s" % (outcome, server) for server, outcome in outcomes)
                return
        lookup.problem = "more than %d CNAMEs" % MAX_CNAMES


class DnsContext(nagiosplugin.Context):
    """Judges the lookup: addresses found, and expected when --expected-address is given."""

    def __init__(self, expected):
        super().__init__("dns")
        self.expected = {ipaddress.ip_address(a) for a in expected or []}

    def evaluate(self, metric, resource):
        lookup = metric.value
        if lookup.problem:
            return self.result_cls(nagiosplugin.Critical, "%s: %s" % (lookup.name, lookup.problem), metric)
        if lookup.rcode == "NXDOMAIN":
            return self.result_cls(nagiosplugin.Critical, "%s does not exist (NXDOMAIN from %s)"
                                   % (lookup.name, lookup.server), metric)
        if lookup.rcode != "NOERROR":
            return self.result_cls(nagiosplugin.Critical, "%s: %s from %s" % (lookup.name, lookup.rcode,
                                                                            lookup.server), metric)
        if not lookup.addresses:
            end = " (CNAME to %s)" % lookup.chain[-1] if lookup.chain else ""
            return self.result_cls(nagiosplugin.Critical, "%s has no %s record%s (NOERROR, empty answer from %s)"
                                   % (lookup.name, lookup.record_type, end, lookup.server), metric)
        found = ", ".join(lookup.addresses[:SHOWN_ADDRESSES])
        if len(lookup.addresses) > SHOWN_ADDRESSES:
            found += " and %d more" % (len(lookup.addresses) - SHOWN_ADDRESSES)
        unexpected = [a for a in lookup.addresses if self.expected and ipaddress.ip_address(a) not in self.expected]
        if unexpected:
            return self.result_cls(nagiosplugin.Critical, "%s is %s, not among the expected %s" % (
                lookup.name, found, ", ".join(sorted(str(a) for a in self.expected))), metric)
        via = " via %s" % lookup.chain[-1] if lookup.chain else ""
        return self.result_cls(nagiosplugin.Ok, "%s is %s%s (%s in %s)" % (
            lookup.name, found, via, lookup.server, plugin.shown_seconds(lookup.elapsed)), metric)


def make_parser():
    parser = options.Parser(SERVICE, prog="check_pryv_dns", description=__doc__)
    options.add_platform_options(parser, dns_less=False)
    group = parser.add_argument_group("DNS")
    group.add_argument("-s", "--server", type=options.ip_address, action="append", metavar="ADDR",
                       help="ask this name server (repeatable; default: those of /etc/resolv.conf)")
    group.add_argument("-p", "--port", type=options.port_number, default=53, help="default: %(default)s")
    group.add_argument("--record-type", choices=("A", "AAAA"), default="A", help="default: %(default)s")
    group.add_argument("-a", "--expected-address", type=options.ip_address, action="append", metavar="ADDR",
                       help="CRITICAL when an address found is not one of these (repeatable)")
    options.add_family_options(group)
    options.add_limit_options(parser)
    return parser


def system_servers(family):
    """The name servers of /etc/resolv.conf, as dnspython reads them, of -4/-6's IP version if given."""
    import dns.resolver

    try:
        servers = options.of_family([str(s) for s in dns.resolver.Resolver().nameservers], family, None)
    except dns.resolver.NoResolverConfiguration:
        servers = []
    if not servers:
        version = options.FAMILY_NAMES[family][0] + " " if family else ""
        raise options.UsageError("no %sname server in /etc/resolv.conf: give --server" % version)
    return servers


def build(args, deadline):
    servers = options.of_family(args.server, args.family, "--server") if args.server else system_servers(args.family)
    return make_check("%s.%s" % (args.username, args.domain), servers, args.port, args.record_type,
                      args.expected_address, args.warning, args.critical, deadline)


def make_check(name, servers, port, record_type, expected, warning, critical, deadline):
    """The Check of the lookup of `name`, from parsed values: this plugin's, and check_pryv_platform's dns."""
    resource = Resolution(name, servers, port, record_type, deadline)
    return nagiosplugin.Check(resource, DnsContext(expected), plugin.TimeContext(warning, critical),
                              plugin.Summary("dns", resource.lookup.details))


def main(argv=None):
    plugin.run(SERVICE, make_parser(), build, argv)


if __name__ == "__main__":
    main()
