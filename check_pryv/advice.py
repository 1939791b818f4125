"""What to do about each fault: the last lines of a result's long output when it is not OK.

One table, beside docs/faults.rst: each entry names the rows of faults.rst's tables it covers (their first
column, word for word), a pattern that the problem's words on the status line match, and what an operator
does first. faults.rst's "What to do" table shows the same entries; tests/test_advice.py keeps them in step.
Loaded only by a run with a problem.
"""
import re

SETUP = "check_pryv_setup"

# (rows of docs/faults.rst, pattern of the problem's words, what to do): the first entry that matches wins.
ENTRIES = (
    (("connection refused",),
     r"(^|; )cannot connect to .*: connection refused",
     "nothing listens on that port: start the platform's web front (nginx), or fix the port or address checked"),
    (("no answer to the SYN (black hole)",),
     r"(^|; )cannot connect to .*: timed out",
     "the packets get no answer: check that the host is up and that a firewall lets this node reach its port"),
    (("connected, no answer at all", "headers that never end"),
     r"(^|; )no answer from .*: timed out",
     "the front accepts connections but does not answer: look at its load and logs and those of the service "
     "behind it"),
    (("closed without an answer",),
     r"(^|; )no answer from .*: connection closed without an answer",
     "the server closed the connection: read the front's error log (nginx: /var/log/nginx/error.log)"),
    (("not HTTP at all", "a status line ``HTTP/2.0 200 OK`` on HTTP/1.1"),
     r"(^|; )no answer from .*: not an HTTP",
     "another program answers on that port: fix the port checked, or what the name resolves to"),
    (("connection reset mid-response", "body cut short", "body that drips one byte a second",
      "a chunked body with a malformed chunk size"),
     r"(^|; )answer from .* incomplete",
     "the answer broke off: read the front's error log and the core's log (a crash, a restart, a proxy timeout)"),
    # the platform's parts: before the generic answers (``register database answered 500`` is its database's)
    (("the platform's database down (PostgreSQL stopped; sandbox ``database=down``)",),
     r"(^|; )register database answered",
     "the platform's database does not answer: check PostgreSQL (pg_lsclusters, its log) and the register's log"),
    (("a fresh name said taken",),
     r"(^|; )register database says a fresh name is taken",
     "the register says any name is taken, so nobody can sign up: read the register's log and check its "
     "database (PostgreSQL: pg_lsclusters, its log)"),
    (("``--auth-request``: the request refused (sandbox ``auth-request=failing``)",),
     r"(^|; )auth request refused",
     "apps cannot start a sign-in: the platform could not store the request; check its database (PostgreSQL: "
     "pg_lsclusters, its log) and read the register's log"),
    (("``--auth-request``: the poll does not find the request (a store per API worker; sandbox "
      "``auth-request=lost``)",),
     r"(^|; )auth request poll answered",
     "the poll reached a worker that does not know the request (a store per API worker): route /reg/access "
     "to the workers that share one store, and read the register's log"),
    (("``--auth-request``: the poll URL on another host, scheme or port (sandbox ``auth-request=elsewhere``)",),
     r"(^|; )auth request's poll URL is not on",
     "the platform gives apps a poll URL elsewhere: fix its public URL (the register's service info, "
     "the front's host name) so that it names this platform"),
    (("``--auth-request``: 201 without NEED_SIGNIN or a poll URL",),
     r"(^|; )auth request answered \d{3} without",
     "something other than the register answers /reg/access: check the front's route to the register and "
     "the register's version"),
    (("the series event trashed by someone",),
     r"(^|; )series: .*trashed by someone",
     "someone trashed the check's event in the health account's check-pryv stream (the check restored it): "
     "find which access did (the account's accesses) and leave that stream to the monitoring"),
    (("the HFS worker stopped (SIGSTOP) [``hfs=hung``], ``--timeout 4``",),
     r"(^|; )series: .*(no answer from|timed out)",
     "the HFS worker does not answer: look at the hfs-server process (stopped, overloaded?), its log, and the "
     "front's route to it"),
    (("the HFS worker dead [``hfs=dead``]",),
     r"(^|; )series: ",
     "the HFS worker fails or does not run: start hfs-server (or fix the front's route to it), then read its "
     "log and the front's error log"),
    (("the user's attachments directory replaced by a file [``file-storage=gone``]",),
     r"(^|; )attachment: .*refused",
     "the core cannot store attachments: check its file storage (the users' attachments directories: there, "
     "writable, disk space) and read the core's log"),
    (("the HFS worker stopped (SIGSTOP) [``hfs=hung``], ``--timeout 4``",),
     r"not tried, no time left",
     "an earlier part used up the time: fix that part first (its line above), or give the check more -t"),
    (("a front that answers WebSocket upgrades with 400 (``upgrade-refused``; nginx without the Upgrade "
      "headers' pass-through in front of WebSocket-only workers)",),
     r"(^|; )notifications: WebSocket upgrade refused",
     "the front does not pass WebSocket upgrades, so realtime apps hear of no change: pass /socket.io/ with "
     "its Upgrade and Connection headers (nginx: proxy_http_version 1.1; proxy_set_header Upgrade "
     "$http_upgrade; proxy_set_header Connection \"upgrade\")"),
    (("the namespace refused (``namespace-refused``, or an access the socket.io side does not find)",),
     r"(^|; )notifications: namespace .* refused",
     "the core's socket.io side refuses the health access: read the core's log, and check that its workers "
     "read the same database as the API"),
    (("joined, never notified (``silent``; or the platform's namespace-form bug, see plugins.rst)",),
     r"(^|; )notifications: no eventsChanged",
     "apps hear of no change: read the core's log (its notification bus between workers); if another client "
     "of the health account joins with the other namespace form, restart the core's workers (see plugins.rst)"),
    (("a stage out of time (connect, TLS, the upgrade, the namespace)",),
     r"(^|; )notifications: .*timed out",
     "the core's socket.io side does not answer in time: look at the core's workers (running, load) and at the "
     "front's route for /socket.io/"),
    (("500, 502, 503, 504 with nginx's HTML page",),
     r"answered 50\d ",
     "the front answers but the service behind it fails: check that the register and core run, then read "
     "their logs and the front's error log"),
    (("200 that is not JSON", "JSON without the expected keys", "a body of 100 MB (1 MiB read)"),
     r"answered 200 (without|with a body over)",
     "something else answers at that URL (a default page, another site): check the front's server names "
     "against the domain or host name checked"),
    (("a Pryv error, either body shape (``{\"error\": {\"id\", \"message\"}}`` or flat ``{\"id\", \"message\"}``)",),
     r"(^|; )access token rejected",
     "the access was deleted or the token is wrong: run %s again and put the new token in the token file" % SETUP),
    (("a Pryv error, either body shape (``{\"error\": {\"id\", \"message\"}}`` or flat ``{\"id\", \"message\"}``)",
      "the server echoes the token (message, error id, ``Location``, reason, HTML title, body, API version, "
      "``wrong-core`` data), whatever its length, even with a ``|`` in the token"),
     r"(^|; )access forbidden",
     "the access has expired or lost its permission on the account: run %s again (it makes a new access) and "
     "put the new token in the token file" % SETUP),
    (("a Pryv error, either body shape (``{\"error\": {\"id\", \"message\"}}`` or flat ``{\"id\", \"message\"}``)",),
     r"(^|; )unknown user",
     "this core does not know the health account: create it with %s, or fix the user name" % SETUP),
    (("421 ``wrong-core``",),
     r"wrong.core",
     "the account lives on another core: check the register's record of the user's core, or connect to that "
     "core (--address)"),
    (("a Pryv error, either body shape (``{\"error\": {\"id\", \"message\"}}`` or flat ``{\"id\", \"message\"}``)",),
     r"(^|; )(register|core) answered \d{3} [A-Za-z0-9_-]+: ",
     "the platform refused the call with the error above: look its id up in Pryv's API reference, and the "
     "service's log"),
    (("a redirect (not followed)", "a redirect without ``Location``"),
     r"answered 30[1278] redirect",
     "the front redirects instead of answering: check the scheme, port and host name checked (plugins never "
     "follow redirects)"),
    (("``304 Not Modified`` (the request had no condition)",),
     r"answered 304 ",
     "a cache or proxy in front answers for the platform: make it pass the monitoring's requests through"),
    (("TLS: certificate from a CA not trusted",),
     r"certificate verify failed: (unable to get local issuer|self.signed|unable to verify)",
     "this node does not trust the certificate's issuer: have the server send its intermediate certificates, "
     "or give the private CA with --ca-cert"),
    (("TLS: expired certificate",),
     r"certificate verify failed: certificate has expired",
     "renew the server's certificate and reload the front"),
    (("TLS: certificate for another name",),
     r"certificate verify failed: Hostname mismatch",
     "the certificate does not name this host: add the name to it, or check that the name reaches the right "
     "server"),
    (("TLS: plain HTTP on the HTTPS port",),
     r"plain HTTP on this port",
     "that port speaks plain HTTP: check the HTTPS port, or --scheme http for a platform without TLS"),
    # DNS
    (("NXDOMAIN",),
     r"does not exist \(NXDOMAIN",
     "the name does not exist: check that the domain is delegated to the register's DNS (its NS records) and "
     "that the account exists"),
    (("NOERROR without an answer (the register, for an unknown user)",),
     r"has no (A|AAAA) record",
     "the register's DNS does not know this user (or has only the other address type): check the account, "
     "or --record-type"),
    (("SERVFAIL from every server",),
     r"SERVFAIL from",
     "the resolver failed on this name: check the delegation to the register's DNS, or ask it directly "
     "(--server)"),
    (("REFUSED from every server",),
     r"REFUSED from",
     "the name server refuses to answer for this domain: ask the register's DNS itself (--server), or let "
     "this node's resolver recurse"),
    (("a silent server",),
     r": no answer from .* after",
     "the name server does not answer: check that it runs and that port 53 (UDP and TCP) is open to this node"),
    (("a truncated UDP answer whose TCP retry is closed (or refused); a good second server",),
     r"the TCP retry",
     "the answer needs TCP and TCP port 53 is closed: open it on the name server and the firewalls between"),
    (("``--server`` unreachable (its port closed)",),
     r"connection refused from",
     "nothing listens on that DNS port: start the name server, or fix --server and --port"),
    (("an address not among ``--expected-address``",),
     r"not among the expected",
     "the name points elsewhere: fix the DNS record, or --expected-address after a planned move"),
    # judged values
    (("a certificate that expires within ``--certificate-days``, or has expired",),
     r"(^|; )certificate of .* (valid for|expired)",
     "renew the certificate and reload the front, before the date above"),
    (("a certificate the plugin cannot read",),
     r"(^|; )certificate not readable",
     "the certificate is unusual: read it with `openssl s_client -connect HOST:PORT` and report it"),
    (("a response or write time outside ``-w``/``-c`` (``--write-warning``/``--write-critical``)",),
     r"(^|; )(response|write) time ",
     "the platform is slow: look at the core's load and its database; the time perfdata shows since when"),
    (("the server's clock off by more than ``--skew-warning``/``--skew-critical``",),
     r"(^|; )server clock off by",
     "set the server's clock right (NTP), or this node's: apps and Pryv itself date events by it"),
    (("an API version other than ``--expect-api-version``",),
     r"(^|; )core reports .*, expected",
     "after a planned upgrade, set --expect-api-version to the new version; otherwise find out which core "
     "answered"),
    (("the register no longer knows the health account",),
     r"no longer knows",
     "the register lost the account: restore its database, or create the account again with %s" % SETUP),
    (("a hosting not available, or not listed",),
     r"hosting",
     "new accounts cannot be created there: check that hosting's core, and the register's hostings "
     "configuration"),
    (("service info that lacks a field, or names another platform",),
     r"(^|; )service info of",
     "apps read the service info to find the platform: fix its service section in the register's "
     "configuration"),
    (("the write path refused, lost or changed the event", "the change refused (``storage=read-only``)"),
     r"refused|differs|deleted|trashed|write path",
     "the core cannot save data: read the core's log, check its storage (disk, database) and the access's "
     "permission on the stream"),
)

FALLBACK = "see docs/faults.rst for this fault, and the lines above"


def advice(problem):
    """What to do about a problem (its words on the status line)."""
    for _rows, pattern, text in ENTRIES:
        if re.search(pattern, problem):
            return text
    return FALLBACK


def lines(problems):
    """The `what to do:` lines for the problems, worst first, each piece of advice once."""
    return ["what to do: " + text for text in dict.fromkeys(advice(problem) for problem in problems)]
