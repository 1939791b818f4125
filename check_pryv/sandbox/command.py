"""The check_pryv_sandbox command: its options, its banner, its --demo run, and main()."""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading

from check_pryv import __version__, configtext, output, safefile

from . import configs
from .faults import check_fault
from .platform import Sandbox
from .tls import TLSUnavailable

PLUGIN_MODULES = {"check_pryv_dns": "check_pryv.check_dns", "check_pryv_register": "check_pryv.check_register",
                  "check_pryv_core": "check_pryv.check_core", "check_pryv_platform": "check_pryv.check_platform"}

EPILOG = """\
faults (--fault NAME=VALUE, repeatable; also GET/POST /_sandbox/faults on the HTTP server):
  delay=SECONDS                      every HTTP answer waits that long before its headers
  skew=SECONDS                       the core's clock is off: meta.serverTime shifted by SECONDS
  core=ok|down                       down: every core request gets nginx's 502 HTML page
  token=ok|rejected|expired          the health token: 403 invalid-access-token / 403 forbidden
  account=ok|gone                    the health account no longer exists (register, core, DNS)
  register=ok|failing                every register request gets a 500 internal error
  dns=ok|nxdomain|servfail|refused|empty|silent
                                     empty: NOERROR without answer; silent: no reply at all
  hostings=ok|all-available|none-available
                                     ok: DNS mode hosting1 available, hosting2 not (closed to new
                                     accounts), DNS-less default; the others: every hosting so
  service-info=ok|mismatch|incomplete
                                     mismatch: api and register URLs of another platform (old-DOMAIN,
                                     old-HOSTNAME); incomplete: no api nor access
  api-version=VERSION                the API version reported (header, meta, service info; default
                                     1.9.3-open)
  storage=ok|read-only|loses-writes  read-only: every write to streams and events gets 500
                                     unexpected-error (as a read-only PostgreSQL gives); loses-writes:
                                     an event update is acknowledged but not kept (a series point
                                     neither; an attachment is listed, its bytes lost)
  hfs=ok|hung|dead|none              the HFS worker (series): hung, the series calls get no answer
                                     (until a reset or a stop); dead, the API's 502 "HFS upstream
                                     unreachable"; none, a platform without one: that 502, and
                                     service/info says features.noHF
  file-storage=ok|gone               gone: every attachment upload and read gets 500 unexpected-error
                                     (ENOTDIR, as with the user's attachments directory replaced by a file)
  notifications=ok|upgrade-refused|namespace-refused|silent
                                     socket.io: upgrade-refused: the WebSocket upgrade gets nginx's 400
                                     page; namespace-refused: 44 "Cannot find access from token.";
                                     silent: joined, never notified
  core-down=none|hosting1|hosting2   the core of that hosting alone answers nginx's 502 (DNS mode:
                                     each hosting has its core, coN.DOMAIN)

The server certificate lasts until the year 3000; --cert-days DAYS makes it end DAYS days from now
(a negative number: it expired that long ago).

control endpoint (any Host): GET /_sandbox/faults, POST /_sandbox/faults with a JSON object
of faults to change, POST /_sandbox/reset (faults off, data back to the initial account).

examples:
  check_pryv_sandbox                      # HTTPS and DNS on free ports; prints the plugin command lines
  check_pryv_sandbox --fault core=down --fault delay=2
  check_pryv_sandbox --demo               # run every plugin (and check_pryv_platform) once, then stop
  check_pryv_sandbox --print-config icinga2 --state-dir /var/lib/pryv-sandbox --http-port 8443 --dns-port 8053
  check_pryv_sandbox --print-config icinga2=pryv-sandbox.conf,nagios=pryv-sandbox.cfg   # both, to files
"""


def _parser():
    parser = argparse.ArgumentParser(
        prog="check_pryv_sandbox", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run a local stand-in for a Pryv.io platform (register, cores and DNS, on 127.0.0.1) "
                    "with one health account and its access token, to try the check_pryv plugins against. "
                    "Runs until SIGINT (Ctrl-C) or SIGTERM.")
    parser.add_argument("-V", "--version", action="version", version="%(prog)s " + __version__)
    parser.add_argument("--domain", default="pryv.test", help="platform domain, DNS mode (default: %(default)s)")
    parser.add_argument("--hostname", default="localhost",
                        help="platform host name, DNS-less mode (default: %(default)s)")
    parser.add_argument("--scheme", choices=("https", "http"), default="https",
                        help="https uses a throwaway CA written to STATE_DIR/ca.pem (default: %(default)s)")
    parser.add_argument("--state-dir", metavar="DIR",
                        help="where the CA and the token file go (default: a new temporary directory)")
    parser.add_argument("--http-port", type=int, default=0, metavar="N",
                        help="HTTP(S) port on 127.0.0.1 (default: 0, any free port)")
    parser.add_argument("--dns-port", type=int, default=0, metavar="N",
                        help="DNS port on 127.0.0.1, UDP and TCP (default: 0, any free port)")
    parser.add_argument("--fault", action="append", default=[], metavar="NAME=VALUE",
                        help="start with this fault on (repeatable; see below)")
    parser.add_argument("--cert-days", type=float, metavar="DAYS",
                        help="HTTPS: the server certificate expires DAYS days from now (negative: already "
                             "expired; default: in the year 3000)")
    parser.add_argument("--trusted-apps", metavar="LIST",
                        help="the platform's auth.trustedApps: comma-separated APP@ORIGIN pairs, * a wildcard in "
                             "either, e.g. '*@https://*.pryv.test*' (default: any app from https://DOMAIN, "
                             "https://*.DOMAIN and https://HOSTNAME, any port or path)")
    parser.add_argument("--verbose", action="store_true", help="log every HTTP request and DNS query to stderr")
    parser.add_argument("--demo", action="store_true",
                        help="run each plugin command line once against the sandbox, print the results, and "
                             "exit 0 if every plugin exited 0, else 1")
    parser.add_argument("--print-config", type=configs.printing, metavar="icinga2|nagios[=FILE],...",
                        help="print this sandbox as Icinga 2 hosts (or Nagios objects) with every variable set, "
                             "instead of the command lines, and run until stopped; FORMAT=FILE writes that format "
                             "to FILE instead of stdout, e.g. icinga2=pryv-sandbox.conf,nagios=pryv-sandbox.cfg "
                             "(both from one run: restarting for the other format would change the ports)")
    return parser


def _banner(sandbox):
    base = sandbox._url(sandbox.hostname)
    user_url = sandbox._url(f"{sandbox.username}.{sandbox.domain}", "/events?limit=1")
    cacert = f"--cacert {shlex.quote(sandbox.ca_file)} " if sandbox.ca_file else ""
    lines = [
        f"Pryv.io sandbox for domain {sandbox.domain} ({sandbox.scheme})",
        f"  HTTP server  127.0.0.1:{sandbox.http_port}  register: Host reg.{sandbox.domain}, cores: Host "
        f"USER.{sandbox.domain}; DNS-less: {base}reg/ and {base}USER/",
        f"  DNS server   127.0.0.1:{sandbox.dns_port}  (UDP and TCP), zone {sandbox.domain}",
        *([f"  CA file      {sandbox.ca_file}"] if sandbox.ca_file else []),
        f"  token file   {sandbox.token_file}  (account {sandbox.username}, access metricsAccess)",
        f"  faults       GET/POST {base}_sandbox/faults, POST {base}_sandbox/reset",
        "",
        "Try:",
        f"  dig @127.0.0.1 -p {sandbox.dns_port} {sandbox.username}.{sandbox.domain}",
        f"  TOKEN=$(cat {shlex.quote(sandbox.token_file)})",
        f"  curl {cacert}--resolve {sandbox.username}.{sandbox.domain}:{sandbox.http_port}:127.0.0.1 "
        f"-H \"Authorization: $TOKEN\" '{user_url}'",
        "",
        "Plugin command lines:",
    ]
    for label, argv in _command_lines(sandbox):
        lines += [f"  # {label}", f"  {shlex.join(argv)}"]
    return "\n".join([*lines, "", "Stop with Ctrl-C (SIGINT) or SIGTERM."])


# check_pryv_core's platform parts, which the sandbox serves (--notifications: with the notifications extra, which the
# sandbox extra brings)
PARTS = ["--write", "--series", "--attachment", "--notifications"]


def _command_lines(sandbox):
    """The plugins' command lines, then the DNS-less core's again with every platform part in one run, then
    check_pryv_platform's."""
    lines = sandbox.command_lines()
    core = next(argv for label, argv in lines if label == "core, DNS-less")
    return lines + [("core, DNS-less, every part", [*core, *PARTS])] + sandbox.platform_command_lines()


def _demo(sandbox):
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))
    all_ok = True
    for label, argv in _command_lines(sandbox):
        command = [sys.executable, "-m", PLUGIN_MODULES[argv[0]], *argv[1:]]
        print(f"== {label}\n$ {shlex.join(argv)}", flush=True)  # what an admin types; run from this package
        try:
            done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=30, env=env)
            output, errors, code = done.stdout, done.stderr, done.returncode
        except subprocess.TimeoutExpired:
            output, errors, code = "", "no exit within 30 s\n", None
        print(output.rstrip("\n"))
        if errors.strip():
            print("stderr: " + errors.rstrip("\n").replace("\n", "\nstderr: "))
        print(f"exit code: {code}\n", flush=True)
        all_ok = all_ok and code == 0
    return 0 if all_ok else 1


def _wait_for_signal():
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()


def main(argv=None):
    output.install()  # what it prints (paths, names, the plugins' output in --demo) free of control characters
    parser = _parser()
    args = parser.parse_args(argv)
    faults = {}
    for item in args.fault:
        name, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError(f"--fault expects NAME=VALUE, not {item!r}")
            faults[name] = check_fault(name, value)
        except ValueError as error:
            parser.error(str(error))
    with contextlib.ExitStack() as cleanup:
        state_dir = args.state_dir or cleanup.enter_context(tempfile.TemporaryDirectory(prefix="pryv-sandbox-"))
        try:
            sandbox = Sandbox(domain=args.domain, hostname=args.hostname, scheme=args.scheme, state_dir=state_dir,
                              http_port=args.http_port, dns_port=args.dns_port, verbose=args.verbose,
                              cert_days=args.cert_days, trusted_apps=args.trusted_apps)
        except ValueError as error:
            parser.error(str(error))
        sandbox.set_faults(**faults)
        try:
            cleanup.enter_context(sandbox)
        except (OSError, TLSUnavailable) as error:
            parser.exit(1, f"check_pryv_sandbox: cannot start: {error}\n")
        if args.demo:
            return _demo(sandbox)
        if args.print_config:  # stdout holds the configuration only, ready for `> pryv-sandbox.conf`
            texts = {}
            for kind, path in args.print_config:  # every format generated before any is written
                try:
                    texts[kind] = configs.PRINTERS[kind](sandbox)
                except configtext.Unwritable as error:
                    parser.exit(1, f"check_pryv_sandbox: no {kind} configuration: {error}: choose another "
                                   "--state-dir\n")
            for kind, path in args.print_config:
                if not path:
                    print(texts[kind], flush=True)
                    continue
                try:
                    safefile.write_atomic(path, texts[kind] + "\n", mode=0o644)
                except OSError as error:
                    parser.exit(1, f"check_pryv_sandbox: cannot write {path}: {error.strerror or error}\n")
                print(f"{kind} configuration written to {path}", file=sys.stderr, flush=True)
            print("Sandbox running; stop with Ctrl-C (SIGINT) or SIGTERM.", file=sys.stderr, flush=True)
        else:
            print(_banner(sandbox), flush=True)
        _wait_for_signal()
        return 0

