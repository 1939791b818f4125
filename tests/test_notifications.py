"""check_pryv_core --notifications against the sandbox's socket.io (Engine.IO 4 over WebSocket), over real sockets:
OK in both modes, CRITICAL for each way notifications break (the upgrade refused by a front, the namespace refused,
no notification), the platform's namespace-form bug, the deadline, no token at any verbosity, and UNKNOWN with the
command to install the client when python-socketio is missing."""
import re
import time

import pytest

from conftest import dns_mode_args, dnsless_args, run_plugin

pytest.importorskip("socketio")  # the notifications extra; CI installs it (and Debian's python3-socketio)

EVENTS = r"PRYV_CORE %s - events answered 200 in \d\.\d{3}s \(API 1\.9\.3-open\); "
PERF = r" \| clock_skew=-?\d+\.?\d*s notification_time=\d+\.?\d*s;;;0 time=\d+\.?\d*s;;;0;10$"
MODES = pytest.mark.parametrize("mode", [dns_mode_args, dnsless_args], ids=["dns-mode", "dns-less"])


def notifications(sb, *extra, mode=dnsless_args, env=None):
    return run_plugin("check_pryv_core", *mode(sb), "--token-file", sb.token_file, "--notifications", *extra,
                      env=env)


def first_line(result):
    return result.stdout.splitlines()[0] if result.stdout else ""


@MODES
def test_notifications_ok(sandbox, mode):
    result = notifications(sandbox, mode=mode)
    assert result.returncode == 0, result.stdout
    assert re.fullmatch(EVENTS % "OK" + r"eventsChanged \d\.\d{3}s after the change" + PERF,
                        first_line(result)), result.stdout
    events = [e for e in sandbox._users[sandbox.username]["events"] if "check-pryv" in e["streamIds"]]
    assert len(events) == 1  # the change is the write path's: one event, made on the first run
    assert notifications(sandbox, mode=mode).returncode == 0


def test_namespace_is_the_official_clients_form_in_each_mode(sandbox):
    dns = notifications(sandbox, "-v", mode=dns_mode_args)
    assert "notifications: joined namespace /healthmetrics01 at https://healthmetrics01.pryv.test:%d/ " \
           "(127.0.0.1)" % sandbox.http_port in dns.stdout, dns.stdout
    sandbox.reset()
    dnsless = notifications(sandbox, "-v")
    assert "notifications: joined namespace /healthmetrics01/healthmetrics01 at https://localhost:%d/ " \
           % sandbox.http_port in dnsless.stdout, dnsless.stdout


@MODES
def test_upgrade_refused_by_the_front_is_critical_while_rest_is_ok(sandbox, mode):
    sandbox.set_faults(notifications="upgrade-refused")
    plain = run_plugin("check_pryv_core", *mode(sandbox), "--token-file", sandbox.token_file)
    assert plain.returncode == 0, plain.stdout
    result = notifications(sandbox, mode=mode)
    assert result.returncode == 2, result.stdout
    assert re.fullmatch(EVENTS % "CRITICAL" + r"notifications: WebSocket upgrade refused: 400 Bad Request \|"
                        r" clock_skew=-?\d+\.?\d*s time=\d+\.?\d*s;;;0;10", first_line(result)), \
        result.stdout


@MODES
def test_namespace_refused_is_critical_with_the_servers_message(sandbox, mode):
    sandbox.set_faults(notifications="namespace-refused")
    result = notifications(sandbox, mode=mode)
    assert result.returncode == 2, result.stdout
    namespace = "/healthmetrics01" if mode is dns_mode_args else "/healthmetrics01/healthmetrics01"
    assert first_line(result).startswith("PRYV_CORE CRITICAL - events answered 200 in ")
    assert "; notifications: namespace %s refused: Cannot find access from token. | " % namespace in first_line(result)


@MODES
def test_no_notification_is_critical_within_the_deadline(sandbox, mode):
    sandbox.set_faults(notifications="silent")
    started = time.monotonic()
    result = notifications(sandbox, "-t", "3", mode=mode)
    assert time.monotonic() - started < 3.5
    assert result.returncode == 2, result.stdout
    assert re.fullmatch(EVENTS % "CRITICAL" + r"notifications: no eventsChanged on namespace /\S+ within \d\.\ds "
                        r"of the change \| clock_skew=-?\d+\.?\d*s time=\d+\.?\d*s;;;0;3", first_line(result)), \
        result.stdout


def test_a_slow_platform_ends_within_the_deadline(sandbox):
    """Every answer 1 s late: the events call and the change eat the time; the check says where it stopped."""
    sandbox.set_faults(delay=1)
    started = time.monotonic()
    result = notifications(sandbox, "-t", "2")
    assert time.monotonic() - started < 2.5
    assert result.returncode == 2, result.stdout


def test_first_namespace_form_wins(sandbox):
    """The platform's bug, as the sandbox copies it: DNS mode's /U first, then DNS-less /U/U is acknowledged and
    never notified; /U still is."""
    assert notifications(sandbox, mode=dns_mode_args).returncode == 0
    other = notifications(sandbox, "-t", "3")
    assert other.returncode == 2, other.stdout
    assert "no eventsChanged on namespace /healthmetrics01/healthmetrics01 within " in first_line(other)
    verbose = notifications(sandbox, "-t", "3", "-v")
    assert "notifications: joined and never notified; if another client joined this user's namespace as " \
           "/healthmetrics01 first on this API worker, the platform notifies only that form" in verbose.stdout
    assert notifications(sandbox, mode=dns_mode_args).returncode == 0


@pytest.mark.parametrize("fault", ["upgrade-refused", "namespace-refused", "silent"])
def test_every_failure_at_vvv_carries_no_token(sandbox, fault):
    sandbox.set_faults(notifications=fault)
    result = notifications(sandbox, "-vvv", "-t", "3")
    assert result.returncode == 2, result.stdout
    assert "notifications: " in result.stdout
    assert sandbox.token not in result.stdout + result.stderr
    assert result.stderr == ""


def test_without_python_socketio_it_is_unknown_with_the_install_command(sandbox, tmp_path):
    hidden = tmp_path / "socketio"  # a socketio package that cannot load, first on the path
    hidden.mkdir()
    (hidden / "__init__.py").write_text("raise ImportError('hidden by the test')\n")
    result = notifications(sandbox, env={"PYTHONPATH": str(tmp_path)})
    assert result.returncode == 3, result.stdout
    assert first_line(result) == (
        "PRYV_CORE UNKNOWN - --notifications needs python-socketio with its client: pip install "
        "'check_pryv[notifications]' (Debian: apt install python3-socketio) (see --help)")


def test_change_refused_is_critical_with_the_platforms_error(sandbox):
    assert notifications(sandbox).returncode == 0  # the event exists from here on
    sandbox.set_faults(storage="read-only")
    result = notifications(sandbox)
    assert result.returncode == 2, result.stdout
    assert "; notifications: updating the event refused: 500 unexpected-error: Error from data store \"local\": " \
           "Unexpected error: cannot execute UPDATE in a read-only transaction | " in first_line(result), result.stdout


def websocket_server(after_upgrade):
    """A faultservers behaviour: the events call answered as a healthy core, a WebSocket upgrade answered
    `after_upgrade` ("nothing": no answer at all; "101": accepted, then silence; "open": accepted and the Engine.IO
    open packet, then silence)."""
    import base64
    import hashlib

    from faultservers import pryv_ok

    def behaviour(conn):
        head = conn.read_request()
        key = re.search(rb"(?im)^sec-websocket-key:\s*(\S+)", head)
        if not key:
            conn.send(pryv_ok(head))
            return
        if after_upgrade != "nothing":
            accept = base64.b64encode(hashlib.sha1(key.group(1) + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
            conn.send(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        if after_upgrade == "open":
            packet = b'0{"sid":"x","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}'
            conn.send(bytes([0x81, len(packet)]) + packet)
        conn.hold()
    return behaviour


@pytest.mark.parametrize("after_upgrade, stage", [
    ("nothing", "the WebSocket upgrade"), ("101", "the Engine.IO open packet"),
    ("open", "joining namespace /healthmetrics01/healthmetrics01")])
def test_a_silent_socketio_stage_ends_within_the_deadline(after_upgrade, stage, tmp_path):
    from faultservers import HTTPFault

    token = tmp_path / "token"
    token.write_text("a-token-of-25-characters1\n")
    with HTTPFault(websocket_server(after_upgrade)) as server:
        started = time.monotonic()
        result = run_plugin("check_pryv_core", "--hostname", "127.0.0.1", "--port", str(server.port), "--scheme",
                            "http", "--token-file", str(token), "--notifications", "-t", "3", "-vvv")
    assert time.monotonic() - started < 3.5
    assert result.returncode == 2, result.stdout
    assert re.match(r"PRYV_CORE CRITICAL - events answered 200 in \d\.\d{3}s \(API 1\.9\.3-open\); notifications: "
                    r"%s timed out after \d\.\ds$" % re.escape(stage), first_line(result)), result.stdout
    assert "a-token-of-25-characters1" not in result.stdout + result.stderr
