"""The platform's DNS zone: DOMAIN's apex, its infrastructure hosts and one name per user."""

from __future__ import annotations

import sys

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset

from .cores import CORE_LABELS
from .messages import SERIAL

DNS_TTL = 60
INFRA_LABELS = frozenset({"reg", "sw", *CORE_LABELS.values()})  # platform hosts under DOMAIN, never users
ADDRESSES = {dns.rdatatype.A: "127.0.0.1", dns.rdatatype.AAAA: "::1"}


def log(message):
    print(f"[sandbox] {message}", file=sys.stderr, flush=True)


class Zone:
    """The DNS answers, mixed into Sandbox. Expects from it: _zone, domain, verbose, _lock, _faults and _user()."""

    def _dns_answer(self, wire):
        """The wire answer to a DNS query, or None to stay silent."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None  # not a DNS query: nothing sensible to answer
        with self._lock:
            response = self._dns_response(query, self._faults["dns"])
        if self.verbose:
            question = " ".join(str(q) for q in query.question)
            rcode = "no reply" if response is None else dns.rcode.to_text(response.rcode())
            log(f"dns {question} -> {rcode}")
        return None if response is None else response.to_wire()

    def _dns_response(self, query, fault):
        if fault == "silent":
            return None
        response = dns.message.make_response(query)
        if len(query.question) != 1:
            response.set_rcode(dns.rcode.FORMERR)
            return response
        question = query.question[0]
        if fault in ("servfail", "refused") or not question.name.is_subdomain(self._zone):
            response.set_rcode(dns.rcode.SERVFAIL if fault == "servfail" else dns.rcode.REFUSED)
            return response
        response.flags |= dns.flags.AA
        if fault == "nxdomain":
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif fault == "ok":
            response.answer.extend(self._dns_records(question.name, question.rdtype))
        if not response.answer:
            response.authority.append(self._rrset(self._zone, dns.rdatatype.SOA,
                                                  f"reg.{self.domain}. hostmaster.{self.domain}. "
                                                  f"{SERIAL} 10800 3600 604800 {DNS_TTL}"))
        return response

    def _dns_records(self, name, rdtype):
        labels = name.relativize(self._zone).labels  # () for the zone's apex
        label = labels[0].decode(errors="replace").lower() if len(labels) == 1 else None
        if not labels and rdtype == dns.rdatatype.NS:
            return [self._rrset(name, rdtype, f"reg.{self.domain}.")]
        if not labels or label in INFRA_LABELS:
            return self._addresses(name, rdtype)
        user = self._user(label) if label else None
        if user is not None:  # a user: CNAME to its hosting's core, then the core's address
            core = dns.name.from_text(self._core_label(user), self._zone)
            return [self._rrset(name, dns.rdatatype.CNAME, core.to_text()), *self._addresses(core, rdtype)]
        return []

    def _addresses(self, name, rdtype):
        return [self._rrset(name, rdtype, ADDRESSES[rdtype])] if rdtype in ADDRESSES else []

    @staticmethod
    def _rrset(name, rdtype, text):
        return dns.rrset.from_text(name, DNS_TTL, "IN", rdtype, text)
