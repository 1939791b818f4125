"""Command-line options shared by the plugins, validated so that a bad value is an UNKNOWN, not a crash."""
import argparse
import ipaddress
import os
import socket
import sys

import nagiosplugin

from check_pryv import __version__

UNKNOWN = 3
# Names are checked with sets of characters, not regular expressions: compiling the patterns a run needs took
# some 0.7 ms of every check (see docs/performance.rst).
ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
LABEL_CHARACTERS = ALNUM | {"-"}
DIGITS = frozenset("0123456789")
STREAM_ID_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz-") | DIGITS
MAX_LABEL = 63
MAX_STREAM_ID = 100
WRITE_STREAM = "check-pryv"  # check_pryv_core --write's stream, which check_pryv_setup's access must cover
MAX_NAME = 253  # a DNS name, dots included, without the final dot
MAX_TIMEOUT = 3600


def is_label(text):
    """A DNS label: 1 to 63 ASCII letters, digits and '-', neither first nor last."""
    return is_user_name(text) and text[-1] in ALNUM


def is_user_name(text):
    """A Pryv username as the plugins take it: 1 to 63 ASCII letters, digits and '-', not starting with '-'."""
    return made_of(text, LABEL_CHARACTERS, MAX_LABEL) and text[0] != "-"


def is_stream_id(text):
    """A Pryv stream id as --write-stream takes it: 1 to 100 lower-case ASCII letters, digits and '-', not starting
    with '-'."""
    return made_of(text, STREAM_ID_CHARACTERS, MAX_STREAM_ID) and text[0] != "-"


def is_host_name(text):
    """A DNS name: labels joined by dots, an optional final dot, 253 characters at most without it."""
    name = text[:-1] if text.endswith(".") else text
    return 0 < len(name) <= MAX_NAME and all(is_label(label) for label in name.split("."))


def is_number(text, digits):
    """Whether `text` is 1 to `digits` ASCII digits."""
    return made_of(text, DIGITS, digits)


def made_of(text, characters, most):
    """Whether `text` has 1 to `most` characters, each of them in the set `characters`."""
    return 0 < len(text) <= most and characters.issuperset(text)


class UsageError(Exception):
    """A bad value found after parsing (an unreadable token file, say): reported like an argument error."""


class SecretOptions:
    """Where a parser's secrets come from, so that they are all known before any argument is judged:
    options that carry one (`--token X`), options naming a file that holds one, environment variables."""

    def secret_sources(self):
        # Options and environment variables that carry a secret, scrubbed from all output before parsing.
        self.secret_options, self.secret_files, self.secret_variables = [], [], []

    def secrets(self, argv):
        """The secrets on the command line, in the files it names and in the environment (unreadable files skipped:
        the command says why later, when it reads them for use)."""
        found = [os.environ.get(name, "") for name in self.secret_variables]
        for index, word in enumerate(argv):
            option, equals, value = word.partition("=")
            if option in self.secret_options + self.secret_files:
                value = value if equals else argv[index + 1] if index + 1 < len(argv) else ""
                if option in self.secret_options:
                    found.append(value)
                else:
                    found += secret_file_lines(value)
        return [value for value in found if value.strip()]


def secret_file_lines(path):
    """The content of a file of secrets and each of its lines; nothing when it cannot be read."""
    from check_pryv import safefile

    try:
        content = safefile.read(path)
    except (OSError, UnicodeDecodeError):
        return []
    return [content] + content.splitlines()


class Parser(SecretOptions, argparse.ArgumentParser):
    """An ArgumentParser that speaks the plugin API: errors are one UNKNOWN line on stdout, exit 3."""

    def __init__(self, service, **kwargs):
        self.service = service
        self.secret_sources()
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        # No abbreviations: `--tok SECRET` would be taken for --token, and the scrubber would miss it.
        super().__init__(add_help=False, allow_abbrev=False, **kwargs)
        group = self.add_argument_group("general")
        group.add_argument("-h", "--help", action="help", help="show this help and exit (exit code 3)")
        group.add_argument("-V", "--version", action="version", version="%(prog)s " + __version__,
                           help="show the version and exit (exit code 3)")
        group.add_argument("-v", "--verbose", action="count", default=0,
                           help="more output: -v the details an operator acts on, -vv and -vvv more (up to 3)")

    def parse_args(self, args=None, namespace=None):
        # Required groups are checked last: `--domian x` is a typo to name, not a missing -D/--domain.
        required = [group for group in self._mutually_exclusive_groups if group.required]
        for group in required:
            group.required = False
        try:
            args, extras = self.parse_known_args(args, namespace)
        finally:
            for group in required:
                group.required = True
        if extras:  # name unknown options, never echo values: one may be a secret given to the wrong option
            shown = [word.split("=", 1)[0] for word in extras if word.startswith("-")]
            hidden = sum(1 for word in extras if not word.startswith("-") or "=" in word)
            if hidden:
                shown.append("%s%d value%s (not shown)" % ("and " if shown else "", hidden, "s" * (hidden > 1)))
            self.error("unrecognized arguments: %s" % " ".join(shown))
        for group in required:
            if all(getattr(args, action.dest) is None for action in group._group_actions):
                self.error("one of the arguments %s is required" % " ".join(
                    "/".join(action.option_strings) for action in group._group_actions))
        return args

    def error(self, message):
        sys.stdout.write("%s UNKNOWN - %s (see --help)\n" % (self.service, message))
        sys.exit(UNKNOWN)

    def exit(self, status=0, message=None):
        if message:
            sys.stdout.write(message)
        sys.exit(UNKNOWN)  # --help and --version exit 3, as the Monitoring Plugins guidelines say


def timeout_seconds(text):
    if not is_number(text, 5) or not 1 <= int(text) <= MAX_TIMEOUT:
        raise argparse.ArgumentTypeError("invalid timeout %r: a whole number of seconds from 1 to %d"
                                          % (text, MAX_TIMEOUT))
    return int(text)


def port_number(text):
    if not is_number(text, 5) or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError("invalid port %r: a number from 1 to 65535" % text)
    return int(text)


def threshold_range(text):
    """A Nagios range (`10`, `10:`, `~:10`, `10:20`, `@10:20`), parsed by nagiosplugin."""
    try:
        return nagiosplugin.Range(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError("invalid range %r: %s" % (text, error))


def seconds(text):
    try:
        value = float(text)
    except ValueError:
        value = -1
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("invalid number of seconds %r" % text)
    return value


def ip_address(text):
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError("invalid IP address %r" % text)


def host_name(text):
    if not is_host_name(text):
        shown = text if len(text) <= 40 else text[:40] + "..."  # the first line stays short
        raise argparse.ArgumentTypeError("invalid host or domain name %r: labels of 1 to 63 letters, digits and "
                                         "'-', %d characters in all" % (shown, MAX_NAME))
    return text.rstrip(".").lower()


def user_name(text):
    if not is_user_name(text):
        raise argparse.ArgumentTypeError("invalid username %r: letters, digits and '-'" % text)
    return text.lower()


def add_platform_options(parser, dns_less=True):
    """Which platform, and which account on it."""
    group = parser.add_argument_group("platform")
    modes = group.add_mutually_exclusive_group(required=True)
    modes.add_argument("-D", "--domain", type=host_name,
                       help="DNS mode: the platform's domain (register at reg.DOMAIN, cores at USER.DOMAIN)")
    if dns_less:
        modes.add_argument("-H", "--hostname", type=host_name,
                           help="DNS-less mode: the platform's single host name (HOSTNAME/reg/, HOSTNAME/USER/)")
    group.add_argument("--username", type=user_name, default="healthmetrics01",
                       help="the health account (default: %(default)s)")
    return group


def add_connection_options(parser):
    """How to reach the platform over HTTP(S)."""
    group = parser.add_argument_group("connection")
    group.add_argument("-I", "--address", type=ip_address,
                       help="connect to this IP address instead of resolving the URL's host; "
                            "the Host header, SNI and the certificate's name check stay those of the URL's host")
    group.add_argument("-p", "--port", type=port_number, default=None,
                       help="TCP port (default: 443 for https, 80 for http)")
    group.add_argument("--scheme", choices=("https", "http"), default="https", help="default: %(default)s")
    group.add_argument("--ca-cert", metavar="FILE",
                       help="verify the server's certificate with this CA bundle (default: the system's)")
    group.add_argument("--insecure", action="store_true",
                       help="do not verify the server's certificate (never the default)")
    group.add_argument("--proxy", type=proxy_url, metavar="http://HOST:PORT",
                       help="reach the platform through this HTTP proxy's CONNECT tunnel (HTTPS only: the token "
                            "never crosses a proxy in clear); the proxy resolves the platform's names. Proxy "
                            "environment variables (https_proxy...) are ignored unless --proxy is given")
    return group


def proxy_url(text):
    """--proxy's `http://HOST:PORT`, as (host, port): a proxy that takes CONNECT, named without user or password
    (they would be one more secret in the process list)."""
    rest = text[7:].rstrip("/") if text[:7].lower() == "http://" else ""
    host, _, port = rest.rpartition(":")
    if host[:1] == "[" and host[-1:] == "]":  # an IPv6 address
        host = host[1:-1] if ":" in host and is_ip_address(host[1:-1]) else ""
    elif not is_host_name(host):
        host = ""
    if not host or not is_number(port, 5) or not 1 <= int(port) <= 65535:
        shown = "...@" + text.rpartition("@")[2] if "@" in text else text  # a password is never shown
        shown = shown if len(shown) <= 60 else shown[:60] + "..."
        raise argparse.ArgumentTypeError("invalid proxy %r: http://HOST:PORT, with no user name or password" % shown)
    return host.rstrip(".").lower(), int(port)


def proxy_problem(args):
    """What makes --proxy unusable with the other connection options, or None."""
    if args.proxy and args.scheme != "https":
        return "--proxy takes HTTPS only: with --scheme http the access token would cross the proxy in clear"
    if args.proxy and args.address:
        return "--proxy and --address contradict each other: the proxy resolves the platform's names"
    return None


def is_ip_address(text):
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def add_extended_perfdata_option(group):
    """--extended-perfdata, for the HTTP plugins: check_http -E's phases of the main call."""
    group.add_argument("--extended-perfdata", action="store_true",
                       help="add the phases of the call to the perfdata, as check_http -E names them: time_resolve "
                            "(when a name was resolved), time_connect, time_ssl (HTTPS), time_headers (sending the "
                            "request), time_firstbyte (waiting for the answer's headers), time_transfer (the body); "
                            "seconds, adding up to time")


def add_family_options(group):
    """-4/-6, as check_http has them: the IP version to connect over (default: whichever the names give)."""
    family = group.add_mutually_exclusive_group()
    family.add_argument("-4", "--ipv4", dest="family", action="store_const", const=socket.AF_INET, default=0,
                        help="use IPv4 only")
    family.add_argument("-6", "--ipv6", dest="family", action="store_const", const=socket.AF_INET6,
                        help="use IPv6 only")


FAMILY_NAMES = {socket.AF_INET: ("IPv4", "-4"), socket.AF_INET6: ("IPv6", "-6")}


def of_family(addresses, family, option):
    """The addresses of -4/-6's family; an address given by `option` of the other family is a usage error."""
    if not family:
        return list(addresses)
    version, flag = FAMILY_NAMES[family]
    wrong = [a for a in addresses if (":" in a) != (family == socket.AF_INET6)]
    if option and wrong:
        raise UsageError("%s %s is not an %s address, as %s asks" % (option, wrong[0], version, flag))
    return [a for a in addresses if a not in wrong]


def add_limit_options(parser):
    """Timeout and thresholds."""
    group = parser.add_argument_group("limits")
    group.add_argument("-t", "--timeout", type=timeout_seconds, default=10,
                       help="seconds (whole, 1 to 3600) the whole run may take, network included "
                            "(default: %(default)s)")
    group.add_argument("-w", "--warning", type=threshold_range, metavar="RANGE",
                       help="WARNING when the response time in seconds is outside RANGE (Nagios range syntax)")
    group.add_argument("-c", "--critical", type=threshold_range, metavar="RANGE",
                       help="CRITICAL when the response time in seconds is outside RANGE (Nagios range syntax)")
    return group


def day_limits(text):
    """`WARN[,CRIT]` days, as check_http -C takes them; CRIT defaults to 0 (CRITICAL once expired)."""
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        values = []
    if not 1 <= len(values) <= 2 or not all(0 <= v < float("inf") for v in values):
        raise argparse.ArgumentTypeError("invalid days %r: WARN[,CRIT], numbers of days >= 0" % text)
    warning, critical = values[0], values[1] if len(values) == 2 else 0.0
    if critical > warning:
        raise argparse.ArgumentTypeError("invalid days %r: WARN (the first) is below CRIT" % text)
    return warning, critical


def add_certificate_option(group):
    """--certificate-days, for the HTTP plugins."""
    group.add_argument("--certificate-days", type=day_limits, metavar="WARN[,CRIT]",
                       help="also judge the server certificate that the call got: WARNING when it has less than "
                            "WARN days left, CRITICAL below CRIT (default 0: once expired); perfdata "
                            "certificate_days (HTTPS only)")


def certificate_days(args):
    """--certificate-days, checked against the scheme: (warning, critical) days, or None."""
    if args.certificate_days and args.scheme != "https":
        raise UsageError("--certificate-days needs HTTPS: there is no certificate with --scheme %s" % args.scheme)
    return args.certificate_days


HEX = frozenset("0123456789abcdef")


def is_hashed_name(name):
    """Whether `name` is one of OpenSSL's c_rehash names: a subject hash, then a counter (`5ad8a5d6.0`, or
    `5ad8a5d6.r0` for a CRL)."""
    counter = name[9:].removeprefix("r")
    return name[8:9] == "." and HEX.issuperset(name[:8]) and counter != "" and DIGITS.issuperset(counter)


def hashed_directory(capath):
    """Whether one of the directories of `capath` (OpenSSL's `:`-separated list) holds c_rehash names."""
    for directory in capath.split(":"):
        try:
            with os.scandir(directory) as entries:
                if any(is_hashed_name(entry.name) for entry in entries):
                    return True
        except OSError:
            continue
    return False


def system_trust(ssl):
    """The system's store as OpenSSL's default paths give it, read so that a verification loads only the
    issuers it needs: the hashed directory ($SSL_CERT_DIR, else OpenSSL's), plus a bundle file only when
    $SSL_CERT_FILE names one or when no hashed directory exists (parsing a bundle costs some 25 ms)."""
    paths = ssl.get_default_verify_paths()
    capath = os.environ.get(paths.openssl_capath_env) or paths.openssl_capath
    cafile = os.environ.get(paths.openssl_cafile_env)
    if not cafile and not hashed_directory(capath):  # e.g. a distribution whose certs/ directory is not hashed
        cafile = paths.openssl_cafile
    context = ssl.create_default_context(capath=capath)  # a capath: no load_default_certs(), the whole bundle
    if cafile:
        try:
            context.load_verify_locations(cafile=cafile)
        except (OSError, ssl.SSLError):  # as OpenSSL's default paths: a missing or unreadable file adds nothing
            pass
    return context


def tls_context(ca_cert, insecure, scheme="https"):
    """The TLS trust of every call, loaded once before any call is timed: none over plain HTTP, nothing to
    trust with --insecure, --ca-cert when given, else the system's store."""
    if scheme != "https":
        return None
    if insecure:
        from check_pryv.certificate import unverified_context

        return unverified_context()
    import ssl  # only the HTTP commands have --ca-cert, and they load ssl anyway

    return ssl.create_default_context(cafile=ca_cert) if ca_cert else system_trust(ssl)


def check_name_length(parser, args):
    """The longest name a DNS-mode run asks for (USER.DOMAIN, reg.DOMAIN) must be a valid DNS name: checked before
    any network I/O, where it would be a resolver's or an IDNA encoder's error."""
    if getattr(args, "domain", None):
        longest = "%s.%s" % (max(args.username, "reg", key=len), args.domain)
        if len(longest) > MAX_NAME:
            parser.error("--username and --domain make the name %s..., over %d characters" % (longest[:40], MAX_NAME))


def parse(parser, argv, trust=True):
    """The arguments; with `trust`, the TLS trust loaded too (plugin.run loads it later, once its deadline runs)."""
    args = parser.parse_args(argv)
    check_name_length(parser, args)
    if trust:
        load_trust(parser, args)
    args.verbose = min(args.verbose, 3)
    return args


def load_trust(parser, args):
    """args.tls, for the commands that have --ca-cert: the CA file or the system's store, read now. A FIFO or a
    hung network mount blocks the read: plugin.run does it under its deadline."""
    if not hasattr(args, "ca_cert"):
        return
    if args.ca_cert and args.insecure:
        parser.error("--ca-cert and --insecure contradict each other")
    import ssl

    try:
        args.tls = tls_context(args.ca_cert, args.insecure, args.scheme)
    except ssl.SSLError:
        parser.error("--ca-cert %s holds no PEM certificate" % args.ca_cert)
    except OSError as error:
        parser.error("cannot read --ca-cert %s: %s" % (args.ca_cert, error.strerror))


def trust_source(args):
    """Where the trust of a run is read from, in words: for a message saying that reading it blocked."""
    if args.ca_cert:
        return "the CA file %s (--ca-cert)" % args.ca_cert
    import ssl

    paths = ssl.get_default_verify_paths()
    given = ["%s=%s" % (name, os.environ[name]) for name in (paths.openssl_cafile_env, paths.openssl_capath_env)
             if os.environ.get(name)]
    return "the system's trust store (%s)" % (", ".join(given) or "%s, %s" % (paths.openssl_capath,
                                                                               paths.openssl_cafile))
