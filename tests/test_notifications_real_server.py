"""check_pryv_core --notifications against the real Pryv.io server (open-pryv.io v2, socket.io 4) through nginx:
OK in both modes when nginx passes WebSocket upgrades, CRITICAL through a front that answers them with 400 while
the default check through that front stays OK, CRITICAL with the server's message on a refused namespace, and
the platform's namespace-form bug: the first form a worker sees for a user wins, a client using the other form is
acknowledged and never notified."""
import re
import time

import pytest

from conftest import run_plugin

pytest.importorskip("socketio")  # the notifications extra; CI installs it (and Debian's python3-socketio)
websocket = pytest.importorskip("websocket")

PASSWORD = "notif-pass-1"  # throwaway accounts on a throwaway platform
EVENTS = r"PRYV_CORE %s - events answered 200 in \d+\.\d{3}s \(API 2\.0\.0-pre\.4\); "
NOTIFIED = r"eventsChanged \d+\.\d{3}s after the change"
PERF = r" \| clock_skew=-?\d+\.?\d*s notification_time=\d+\.?\d*s;;;0 time=\d+\.?\d*s;;;0;10$"


def account(rs, directory, username):
    """A health account made by check_pryv_setup: its token file."""
    token_file = directory / (username + ".token")
    made = run_plugin("check_pryv_setup", *rs.dnsless_args(), "--username", username, "--token-file",
                      str(token_file), env={"PRYV_PASSWORD": PASSWORD}, timeout=60)
    assert made.returncode == 0, made.stderr
    return token_file


@pytest.fixture(scope="module")
def accounts(real_server, tmp_path_factory):
    directory = tmp_path_factory.mktemp("real-notifications")
    return {name: account(real_server, directory, name) for name in ("healthnotif01", "healthnotif02",
                                                                     "healthnsbug01")}


def notifications(mode_args, username, token_file, *more):
    return run_plugin("check_pryv_core", *mode_args, "--username", username, "--token-file", str(token_file),
                      "--notifications", *more)


def first_line(result):
    return result.stdout.splitlines()[0] if result.stdout else ""


def test_notifications_ok_dnsless(real_server, accounts):
    result = notifications(real_server.dnsless_args(), "healthnotif01", accounts["healthnotif01"])
    assert result.returncode == 0, result.stdout
    assert re.match(EVENTS % "OK" + NOTIFIED + PERF, first_line(result)), result.stdout
    again = notifications(real_server.dnsless_args(), "healthnotif01", accounts["healthnotif01"], "-v")
    assert again.returncode == 0, again.stdout
    assert "notifications: joined namespace /healthnotif01/healthnotif01 at https://127.0.0.1:%d/ (127.0.0.1)" % (
        real_server.https_port) in again.stdout


def test_notifications_ok_dns_mode(real_server, accounts):
    result = notifications(real_server.dns_mode_args(), "healthnotif02", accounts["healthnotif02"], "-v")
    assert result.returncode == 0, result.stdout
    assert re.match(EVENTS % "OK" + NOTIFIED + "$", first_line(result)), result.stdout
    assert "notifications: joined namespace /healthnotif02 at https://healthnotif02.pryv.test:%d/ (127.0.0.1)" % (
        real_server.https_port) in result.stdout


def test_front_refusing_websocket_upgrades_is_critical_while_rest_is_ok(real_server, accounts):
    args = real_server.dnsless_args(real_server.no_upgrade_port)
    token = accounts["healthnotif01"]
    plain = run_plugin("check_pryv_core", *args, "--username", "healthnotif01", "--token-file", str(token))
    assert plain.returncode == 0, plain.stdout
    result = notifications(args, "healthnotif01", token, "-vvv")
    assert result.returncode == 2, result.stdout
    assert re.match(EVENTS % "CRITICAL" + r"notifications: WebSocket upgrade refused: 400 Bad Request$",
                    first_line(result)), result.stdout
    assert "notifications: the upgrade got 400: a front (proxy) that does not pass WebSocket upgrades" in result.stdout
    if hasattr(websocket.WebSocketBadStatusException("%s %s", 400), "resp_body"):  # newer than Debian 12's
        assert "notifications: the upgrade's answer: HTML page '400 Bad Request'" in result.stdout
    assert token.read_text().strip() not in result.stdout + result.stderr


def test_real_server_refuses_a_namespace_with_its_message(real_server, accounts):
    """What the sandbox's namespace fault copies: `44/NAMESPACE,{"message": ...}` after a good upgrade."""
    import requests
    import socketio

    refusals = []
    session = requests.Session()
    session.verify = real_server.ca_file
    client = socketio.Client(reconnection=False, http_session=session)
    client.on("connect_error", lambda data=None: refusals.append(data), namespace="/healthnotif01/healthnotif01")
    client.connect(real_server.public_url + "?auth=ck0000000000000000000000x", transports=["websocket"],
                   namespaces=["/healthnotif01/healthnotif01"], wait=False)
    try:
        deadline = time.monotonic() + 5
        while not refusals and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        client.disconnect()
    assert [refusal["message"] for refusal in refusals] == ["Cannot find access from token."]


def test_first_namespace_form_wins_within_a_worker(real_server, accounts):
    """The platform's bug: the DNS-mode form /U first, then the DNS-less form /U/U of the same user on the same
    (only) API worker is acknowledged and never notified; the first form still is."""
    token = accounts["healthnsbug01"]
    first = notifications(real_server.dns_mode_args(), "healthnsbug01", token)
    assert first.returncode == 0, first.stdout
    other = notifications(real_server.dnsless_args(), "healthnsbug01", token, "-t", "3")
    assert other.returncode == 2, other.stdout
    assert re.match(EVENTS % "CRITICAL" + r"notifications: no eventsChanged on namespace "
                    r"/healthnsbug01/healthnsbug01 within \d\.\ds of the change \| ", first_line(other)), other.stdout
    again = notifications(real_server.dns_mode_args(), "healthnsbug01", token)
    assert again.returncode == 0, again.stdout


def test_every_part_together_shares_the_deadline_and_keeps_the_stream_small(real_server, accounts):
    """--write --series --attachment --notifications in one run, 20 runs: each OK with each part's words, and the
    check stream keeps one event of each kind."""
    token = accounts["healthnotif01"]
    for run in range(20):
        result = notifications(real_server.dnsless_args(), "healthnotif01", token, "--write", "--series",
                               "--attachment")
        assert result.returncode == 0, (run, result.stdout)
        assert "; eventsChanged " in first_line(result) and "notification_time=" in first_line(result)
    answer = real_server.request("GET", 'healthnotif01/events?streams=["check-pryv"]&state=all&limit=100',
                                 headers={"Authorization": token.read_text().strip()})
    events = answer.json()["events"]
    assert sorted(event["type"] for event in events) == ["note/txt", "series:mass/kg"]
    assert all(len(event.get("attachments", [])) <= 2 for event in events)
