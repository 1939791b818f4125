"""What an operator needs to read off a server's certificate: subject, issuer, expiry, names.

The ssl module decodes a peer's certificate only once it is verified (and not at all with --insecure). After a
failed handshake the client fetches the certificate again without verification; with --certificate-days it
keeps the one the request got. Either way these few DER fields are read here, with no dependency.
"""
import datetime
import ipaddress
import socket
import ssl

ATTRIBUTES = {b"\x55\x04\x03": "CN", b"\x55\x04\x0a": "O", b"\x55\x04\x0b": "OU"}
SUBJECT_ALT_NAME = b"\x55\x1d\x11"
DNS_NAME, IP_ADDRESS, EXTENSIONS, UTC_TIME = 0x82, 0x87, 0xA3, 0x17
UNREADABLE = "(an IP address of %d bytes, not readable)"


def unverified_context():
    """A TLS client context that verifies nothing: to read any certificate, and for --insecure."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def fetch(address, port, server_name, timeout):
    """The server's certificate (DER), from a handshake that verifies nothing and sends nothing else."""
    with socket.create_connection((address, port), timeout=timeout) as sock:
        with unverified_context().wrap_socket(sock, server_hostname=server_name) as tls:
            return tls.getpeercert(binary_form=True)


def _elements(data):
    """(tag, content) of each DER element in `data`."""
    position = 0
    while position < len(data):
        tag, length = data[position], data[position + 1]
        position += 2
        if length & 0x80:
            size = length & 0x7F
            length = int.from_bytes(data[position:position + size], "big")
            position += size
        if position + length > len(data):
            raise ValueError("truncated DER element")
        yield tag, data[position:position + length]
        position += length


def _name(content):
    """`CN=..., O=...` from a Name (a SEQUENCE of SETs of {type, value})."""
    parts = []
    for _, relative in _elements(content):
        for _, pair in _elements(relative):
            (_, kind), (_, value) = list(_elements(pair))[:2]
            if kind in ATTRIBUTES:
                parts.append("%s=%s" % (ATTRIBUTES[kind], value.decode("utf-8", "replace")))
    return ", ".join(parts)


def _time(tag, content):
    """A UTCTime or GeneralizedTime. UTCTime's two-digit year is 19YY from 50 to 99 and 20YY from 00 to 49
    (RFC 5280 4.1.2.5.1): strptime's %y pivots at 69, and would read an expiry in 1968 as 2068."""
    text = content.decode("ascii")
    if tag == UTC_TIME:
        text = ("19" if text[:2] >= "50" else "20") + text
    return datetime.datetime.strptime(text, "%Y%m%d%H%M%SZ").replace(tzinfo=datetime.timezone.utc)


def _alt_names(content):
    """The DNS names and IP addresses of the subjectAltName extension."""
    for _, extension in _elements(list(_elements(content))[0][1]):
        fields = list(_elements(extension))
        if fields[0][1] == SUBJECT_ALT_NAME:
            for tag, value in _elements(list(_elements(fields[-1][1]))[0][1]):
                if tag == DNS_NAME:
                    yield value.decode("ascii", "replace")
                elif tag == IP_ADDRESS and len(value) in (4, 16):
                    yield str(ipaddress.ip_address(value))
                elif tag == IP_ADDRESS:  # 8 or 32 bytes is a network (name constraints), not a SAN address
                    yield UNREADABLE % len(value)


class Certificate:
    """The fields of a certificate an operator acts on."""

    def __init__(self, subject, issuer, not_after, names):
        self.subject, self.issuer, self.not_after, self.names = subject, issuer, not_after, names

    def days_left(self):
        """Days (fractional) until notAfter; negative once it has passed."""
        return (self.not_after - datetime.datetime.now(datetime.timezone.utc)).total_seconds() / 86400

    def lines(self):
        """Long-output lines."""
        days = self.days_left()
        return ["certificate subject: %s" % (self.subject or "(empty)"),
                "certificate issuer: %s" % (self.issuer or "(empty)"),
                "certificate expires: %s (%s)" % (self.not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                                  "expired" if days < 0 else "in %d days" % days),
                "certificate names: %s" % (", ".join(self.names) or "none")]


def parse(der):
    """The Certificate in DER bytes; ValueError when it cannot be read."""
    try:
        certificate = list(_elements(der))[0][1]
        fields = list(_elements(list(_elements(certificate))[0][1]))
        if fields[0][0] == 0xA0:  # an explicit version comes first in v2 and v3 certificates
            fields = fields[1:]
        issuer, validity, subject = fields[2][1], fields[3][1], fields[4][1]
        (_, _), (tag, not_after) = list(_elements(validity))[:2]
        expires = _time(tag, not_after)
    except (IndexError, UnicodeDecodeError) as error:
        raise ValueError("not a certificate: %s" % error)
    try:  # the names are for the operator's eyes: a malformed one does not hide the expiry date
        names = [n for tag_, content in fields[6:] if tag_ == EXTENSIONS for n in _alt_names(content)]
    except (IndexError, ValueError) as error:
        names = ["(not readable: %s)" % error]
    return Certificate(_name(subject), _name(issuer), expires, names)
