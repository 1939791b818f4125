"""The sandbox platform over real sockets: HTTPS register and core in both modes, DNS, faults, CLI."""
import base64
import os
import re
import signal
import stat
import subprocess
import sys
import time

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
import requests

import check_pryv.sandbox as sandbox_module
from check_pryv.sandbox import Sandbox

USER = "healthmetrics01"
INVALID_USER_NAME = {"id": "INVALID_USER_NAME", "message": "Invalid user name", "errors": [],
                     "detail": "User name must be made of 5 to 60 alphanumeric characters (- authorized)."}
MISSING_TOKEN = ('The access token is missing: expected an "Authorization" header or an "auth" '
                 "query string parameter.")
UNTRUSTED = 'The app id ("appId") is either missing or not trusted.'
INVALID_USERNAME_ITEM = {"code": "username-invalid", "path": "#/username", "param": "username", "message":
                         "Username should have between 5 and 60 characters and contain lowercase letters or numbers "
                         "or dashes"}


@pytest.fixture(scope="module")
def sb(tmp_path_factory):
    with Sandbox(state_dir=str(tmp_path_factory.mktemp("sandbox"))) as sandbox:
        yield sandbox


@pytest.fixture(autouse=True)
def clean(request):
    """Each test starts (and leaves) the module's sandbox with no fault and its initial data."""
    if "sb" in request.fixturenames:
        request.getfixturevalue("sb").reset()
    yield
    if "sb" in request.fixturenames:
        request.getfixturevalue("sb").reset()


def call(sb, method, path, host=None, headers=None, **kwargs):
    headers = dict(headers or {}, **({"Host": host} if host else {}))
    return requests.request(method, f"{sb.scheme}://localhost:{sb.http_port}{path}", headers=headers,
                            verify=sb.ca_file, timeout=5, **kwargs)


def reg(sb, method, path, **kwargs):
    return call(sb, method, path, host=f"reg.{sb.domain}", **kwargs)


def core(sb, method, path, user=USER, **kwargs):
    return call(sb, method, path, host=f"{user}.{sb.domain}", **kwargs)


def auth(token):
    return {"Authorization": token}


def without_meta(response):
    """The JSON body without its meta, after checking that meta is Pryv's."""
    body = response.json()
    meta = body.pop("meta")
    assert meta["apiVersion"] == "1.9.3-open" and meta["serial"] == "2019061301"
    assert abs(meta["serverTime"] - time.time()) < 5
    return body


def error(response):
    return without_meta(response)["error"]


def ask(sb, name, rdtype="A", tcp=False, timeout=2.0):
    query = dns.message.make_query(name, rdtype)
    return (dns.query.tcp if tcp else dns.query.udp)(query, "127.0.0.1", port=sb.dns_port, timeout=timeout)


def login(sb, origin="https://sw.pryv.test", **body):
    body = {"username": USER, "password": sb.password, "appId": "pryv-test-app", **body}
    return core(sb, "POST", "/auth/login", json=body, headers={"Origin": origin} if origin else {})


# ---- state files and command lines

def test_state_files_and_command_lines(sb):
    with open(sb.token_file) as file:
        assert file.read() == sb.token
    assert stat.S_IMODE(os.stat(sb.token_file).st_mode) == 0o600
    assert sb.ca_file == os.path.join(sb.state_dir, "ca.pem") and os.path.exists(sb.ca_file)
    port, tls, token = str(sb.http_port), ["--ca-cert", sb.ca_file], ["--token-file", sb.token_file]
    assert sb.command_lines() == [
        ("dns", ["check_pryv_dns", "--domain", "pryv.test", "--server", "127.0.0.1", "--port", str(sb.dns_port)]),
        ("register, DNS mode", ["check_pryv_register", "--domain", "pryv.test", "--address", "127.0.0.1",
                                "--port", port, *tls]),
        ("core, DNS mode", ["check_pryv_core", "--domain", "pryv.test", "--address", "127.0.0.1",
                            "--port", port, *tls, *token]),
        ("register, DNS-less", ["check_pryv_register", "--hostname", "localhost", "--port", port, *tls]),
        ("core, DNS-less", ["check_pryv_core", "--hostname", "localhost", "--port", port, *tls, *token]),
    ]


def test_command_lines_name_another_health_account(tmp_path):
    lines = Sandbox(username="someone01", scheme="http", state_dir=str(tmp_path)).command_lines()
    assert all(argv[-2:] == ["--username", "someone01"] for _, argv in lines)


@pytest.mark.parametrize("name", ["token", "ca.pem"])
def test_cli_refuses_a_state_file_that_is_a_symbolic_link(tmp_path, name):
    victim, state = tmp_path / "victim", tmp_path / "state"
    victim.write_text("precious\n")
    victim.chmod(0o644)
    state.mkdir()
    (state / name).symlink_to(victim)
    result = run_cli("--state-dir", str(state), "--demo")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == (f"check_pryv_sandbox: cannot start: {state / name} is a symbolic link: the sandbox "
                             "never writes through a link; remove it or choose another --state-dir\n")
    assert victim.read_text() == "precious\n" and stat.S_IMODE(victim.stat().st_mode) == 0o644


def test_state_files_replace_an_earlier_run_and_never_write_through_links(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    os.link(victim, tmp_path / "token")  # a hard link: its other name must keep its content
    (tmp_path / "ca.pem").write_text("an earlier run's CA\n")
    with Sandbox(state_dir=str(tmp_path)) as sb:
        assert (tmp_path / "token").read_text() == sb.token
        assert (tmp_path / "ca.pem").read_text().startswith("-----BEGIN CERTIFICATE-----")
        assert reg(sb, "GET", "/hostings").status_code == 200  # the CA written is the server's
    assert victim.read_text() == "precious\n"
    (tmp_path / "token").unlink()
    (tmp_path / "token").symlink_to(tmp_path / "nowhere")  # a dangling link is refused too
    with pytest.raises(OSError, match=r"token is a symbolic link: the sandbox never writes through a link"):
        Sandbox(state_dir=str(tmp_path)).start()
    assert not (tmp_path / "nowhere").exists()
    (tmp_path / "token").unlink()
    (tmp_path / "token").mkdir()
    with pytest.raises(OSError, match=r"token is in the way and is not a regular file"):
        Sandbox(state_dir=str(tmp_path), scheme="http").start()


# ---- register: check_username

@pytest.mark.parametrize("name, status, body", [
    (USER, 200, {"reserved": True}),
    ("%20HealthMetrics01%20", 200, {"reserved": True}),  # the register trims and lower-cases
    ("freename01", 200, {"reserved": False}),
    ("admin", 200, {"reserved": True, "reason": "RESERVED_USER_NAME"}),
    ("ab", 400, INVALID_USER_NAME),
    ("bad_name", 400, INVALID_USER_NAME),
])
def test_check_username_register_shapes(sb, name, status, body):
    response = reg(sb, "GET", f"/{name}/check_username")
    assert (response.status_code, response.json()) == (status, body)
    assert response.headers["API-Version"] == "1.9.3-open"


@pytest.mark.parametrize("name, reserved", [(USER, True), ("freename01", False), ("admin", False)])
def test_check_username_dnsless(sb, name, reserved):
    """v2 says whether an account has the name: a reserved word is refused only at account creation."""
    response = call(sb, "GET", f"/reg/{name}/check_username")
    assert response.status_code == 200
    assert without_meta(response) == {"reserved": reserved}


@pytest.mark.parametrize("name", ["HealthMetrics01", "ab"])
def test_check_username_dnsless_invalid(sb, name):
    response = call(sb, "GET", f"/reg/{name}/check_username")
    assert response.status_code == 400
    assert error(response) == {"id": "invalid-parameters-format", "message": "The parameters' format is invalid.",
                               "data": [INVALID_USERNAME_ITEM]}


# ---- core: events and tokens

@pytest.mark.parametrize("how", ["raw", "basic", "query"])
def test_events_with_health_token(sb, how):
    headers = {"raw": auth(sb.token), "basic": auth("Basic " + base64.b64encode(f"{sb.token}:".encode()).decode()),
               "query": {}}[how]
    query = f"&auth={sb.token}" if how == "query" else ""
    response = core(sb, "GET", "/events?limit=1" + query, headers=headers)
    assert response.status_code == 200
    assert response.headers["Transfer-Encoding"] == "chunked"
    assert response.headers["API-Version"] == "1.9.3-open"
    info = core(sb, "GET", "/access-info", headers=auth(sb.token)).json()
    assert response.headers["Pryv-Access-Id"] == info["id"]
    events = without_meta(response)["events"]
    assert len(events) == 1 and events[0]["content"] == "sandbox event 2"  # the latest


def test_events_dnsless_path_form(sb):
    response = call(sb, "GET", f"/{USER}/events?limit=5", headers=auth(sb.token))
    assert response.status_code == 200 and len(response.json()["events"]) == 2


@pytest.mark.parametrize("header", ["Bearer {}", "bearer {}", "{} caller-id", "Bearer {} caller-id"])
def test_bearer_and_caller_id_forms_are_accepted(sb, header):
    """v2 strips a Bearer scheme (middleware/src/getAuth.ts) and a caller id after a space (MethodContext.ts)."""
    response = core(sb, "GET", "/events?limit=1", headers=auth(header.format(sb.token)))
    assert response.status_code == 200 and len(response.json()["events"]) == 1


def test_unknown_bearer_token_is_rejected(sb):
    response = core(sb, "GET", "/events?limit=1", headers=auth("Bearer " + sb.token[::-1]))
    assert response.status_code == 403
    assert error(response) == {"id": "invalid-access-token", "message": "Cannot find access from token."}
    assert "Pryv-Access-Id" not in response.headers


def test_missing_token(sb):
    response = core(sb, "GET", "/events?limit=1")
    assert response.status_code == 401
    assert error(response) == {"id": "invalid-access-token", "message": MISSING_TOKEN}


@pytest.mark.parametrize("dns_mode", [True, False], ids=["dns-mode", "dns-less"])
def test_unknown_user_checked_before_token(sb, dns_mode):
    response = core(sb, "GET", "/events", user="nobody01") if dns_mode else call(sb, "GET", "/nobody01/events")
    assert response.status_code == 404
    assert error(response) == {"id": "unknown-resource", "message": 'Unknown user "nobody01"'}


def test_unknown_routes_are_404(sb):
    for response in (core(sb, "GET", "/nowhere", headers=auth(sb.token)), reg(sb, "DELETE", "/user"),
                     call(sb, "POST", "/"), reg(sb, "GET", "/"), reg(sb, "OPTIONS", "/hostings")):
        assert response.status_code == 404 and error(response)["id"] == "unknown-resource"


@pytest.mark.parametrize("where", ["/", "/reg/", "/reg", f"/{USER}/", "/nobody01/", "dns-mode"])
def test_root_cheers_from_the_api(sb, where):
    """v2's GET / and /ANYTHING/ (routes/root.ts), before any user is looked up."""
    response = core(sb, "GET", "/", user="nobody01") if where == "dns-mode" else call(sb, "GET", where)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert without_meta(response) == {"cheersFrom": "Pryv API", "learnMoreAt": "https://pryv.github.io/"}
    text = call(sb, "GET", "/reg/", headers={"Accept": "text/html"})
    assert text.headers["Content-Type"] == "text/html; charset=utf-8"
    assert text.text.startswith("# Cheers from the Pryv API!\n\n- API version: 1.9.3-open\n- Server time: ")
    assert text.text.endswith("\n\nLearn more at https://pryv.github.io/")


@pytest.mark.parametrize("dns_mode", [True, False], ids=["dns-mode", "dns-less"])
def test_head_and_options_on_events(sb, dns_mode):
    def ask_core(method, **kwargs):
        return core(sb, method, "/events", **kwargs) if dns_mode else call(sb, method, f"/{USER}/events", **kwargs)
    head = ask_core("HEAD", headers=auth(sb.token))
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["Content-Type"] == "application/json" and "Pryv-Access-Id" in head.headers
    options = ask_core("OPTIONS", headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET",
                                           "Access-Control-Request-Headers": "authorization"})
    assert (options.status_code, options.text) == (200, "OK")
    assert {k: v for k, v in options.headers.items() if k.startswith("Access-Control-")} == {
        "Access-Control-Allow-Origin": "https://app.example", "Access-Control-Allow-Methods": "GET",
        "Access-Control-Allow-Headers": "authorization", "Access-Control-Expose-Headers": "API-Version",
        "Access-Control-Max-Age": "31536000", "Access-Control-Allow-Credentials": "true"}


def test_headers_as_v2_sends_them(sb):
    events = core(sb, "GET", "/events?limit=1", headers=auth(sb.token))
    assert events.headers["Content-Type"] == "application/json"  # a streamed result, without charset
    assert "Server" not in events.headers  # the application sends none; nginx in front adds its own
    assert events.headers["Access-Control-Allow-Origin"] == "*"
    assert events.headers["Access-Control-Allow-Methods"] == "POST, GET, PUT, DELETE, OPTIONS"
    assert events.headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type"
    refused = call(sb, "GET", f"/{USER}/events", headers={"Origin": "https://app.example"})
    assert refused.headers["Content-Type"] == "application/json; charset=utf-8"
    assert refused.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "Access-Control-Allow-Origin" not in reg(sb, "GET", "/hostings").headers  # service-register's
    sb.set_faults(core="down")
    bad_gateway = core(sb, "GET", "/events").headers
    assert "Access-Control-Allow-Origin" not in bad_gateway and bad_gateway["Server"] == "nginx"  # nginx's 502


@pytest.mark.parametrize("limit, count", [("abc", None), ("1e0", 1), ("0x2", 2), (" 1 ", 1), ("", 0),
                                          ("Infinity", None)])
def test_events_limit_as_v2_coerces_it(sb, limit, count):
    response = core(sb, "GET", f"/events?limit={limit}", headers=auth(sb.token))
    if count is not None:
        assert len(response.json()["events"]) == count
        return
    assert response.status_code == 400
    assert error(response) == {"id": "invalid-parameters-format", "message": "The parameters' format is invalid.",
                               "data": [{"code": "INVALID_TYPE", "params": ["number"], "message": "must be number",
                                         "path": "#/limit"}]}


def test_events_refuses_an_unknown_parameter(sb):
    response = core(sb, "GET", "/events?limit=abc&colour=red", headers=auth(sb.token))
    assert response.status_code == 400
    assert error(response)["data"] == [
        {"code": "OBJECT_ADDITIONAL_PROPERTIES", "params": ["colour"], "message": "must NOT have additional properties",
         "path": "#"},
        {"code": "INVALID_TYPE", "params": ["number"], "message": "must be number", "path": "#/limit"}]
    assert core(sb, "GET", f"/events?limit=1&auth={sb.token}").status_code == 200


def test_batch_call(sb):
    calls = [{"method": "events.get", "params": {"limit": 1}}, {"method": "getAccessInfo", "params": {}},
             {"method": "events.get", "params": {"limit": "x"}}, {"method": "streams.get", "params": {}}]
    response = call(sb, "POST", f"/{USER}/", json=calls, headers=auth(sb.token))
    assert response.status_code == 200
    events, info, refused, unknown = without_meta(response)["results"]
    assert [e["content"] for e in events["events"]] == ["sandbox event 2"] and "meta" not in events
    assert (info["token"], info["name"], "meta" in info) == (sb.token, "metricsAccess", False)
    assert refused["error"]["id"] == "invalid-parameters-format"
    assert unknown == {"error": {"id": "invalid-method", "message": 'Invalid method id "streams.get"'}}
    response = core(sb, "POST", "/", json={"method": "events.get"}, headers=auth(sb.token))
    assert response.status_code == 400
    assert error(response)["data"] == [{"code": "INVALID_TYPE", "params": ["array"], "message": "must be array",
                                        "path": "#"}]
    response = core(sb, "POST", "/", json=[{"method": 1}], headers=auth(sb.token))
    assert error(response)["data"] == [
        {"code": "OBJECT_MISSING_REQUIRED_PROPERTY", "params": ["params"],
         "message": "must have required property 'params'", "path": "#/0/"},
        {"code": "INVALID_TYPE", "params": ["string"], "message": "must be string", "path": "#/0/method"}]
    assert core(sb, "POST", "/", json=calls).status_code == 401


def test_handler_exception_is_a_500_logged_to_stderr(sb, monkeypatch, capfd):
    def boom(self, request, user):
        raise RuntimeError("handler bug")
    monkeypatch.setitem(sandbox_module.CORE_ROUTES, ("GET", "/events"), boom)
    response = core(sb, "GET", "/events")
    assert response.status_code == 500
    assert error(response) == {"id": "unexpected-error", "message": "Unexpected error"}
    assert "RuntimeError: handler bug" in capfd.readouterr().err


# ---- faults

@pytest.mark.parametrize("dns_mode", [True, False], ids=["dns-mode", "dns-less"])
def test_fault_core_down(sb, dns_mode):
    sb.set_faults(core="down")
    response = core(sb, "GET", "/events", headers=auth(sb.token)) if dns_mode else call(sb, "GET", f"/{USER}/events")
    assert response.status_code == 502
    assert response.headers["Content-Type"] == "text/html"
    assert response.text.startswith("<html><head><title>502 Bad Gateway</title></head>")
    assert "API-Version" not in response.headers
    assert reg(sb, "GET", f"/{USER}/check_username").json() == {"reserved": True}  # the register still answers


@pytest.mark.parametrize("fault, status, expected", [
    ("rejected", 403, {"id": "invalid-access-token", "message": "Cannot find access from token."}),
    ("expired", 403, {"id": "forbidden", "message": "Access has expired."}),
])
def test_fault_token(sb, fault, status, expected):
    sb.set_faults(token=fault)
    response = core(sb, "GET", "/events?limit=1", headers=auth(sb.token))
    assert response.status_code == status and error(response) == expected


def test_fault_account_gone(sb):
    sb.set_faults(account="gone")
    assert reg(sb, "GET", f"/{USER}/check_username").json() == {"reserved": False}
    assert without_meta(call(sb, "GET", f"/reg/{USER}/check_username")) == {"reserved": False}
    response = core(sb, "GET", "/events", headers=auth(sb.token))
    assert response.status_code == 404 and error(response)["message"] == f'Unknown user "{USER}"'
    answer = ask(sb, f"{USER}.pryv.test")
    assert answer.rcode() == dns.rcode.NOERROR and not answer.answer


def test_fault_register_failing(sb):
    sb.set_faults(register="failing")
    response = reg(sb, "GET", f"/{USER}/check_username")
    assert (response.status_code, response.json()) == (500, {"id": "INTERNAL_ERROR", "message": "Internal error"})
    response = call(sb, "GET", "/reg/service/info")
    assert response.status_code == 500
    assert error(response) == {"id": "unexpected-error", "message": "Unexpected error"}
    assert core(sb, "GET", "/events", headers=auth(sb.token)).status_code == 200  # cores still answer


def test_fault_delay_spares_the_control_endpoint(sb):
    sb.set_faults(delay=0.3)
    start = time.monotonic()
    assert reg(sb, "GET", f"/{USER}/check_username").status_code == 200
    assert time.monotonic() - start >= 0.3
    start = time.monotonic()
    assert call(sb, "GET", "/_sandbox/faults").json()["delay"] == 0.3
    assert time.monotonic() - start < 0.3


def test_control_endpoint(sb):
    assert call(sb, "GET", "/_sandbox/faults").json() == {
        "delay": 0.0, "skew": 0.0, "core": "ok", "token": "ok", "account": "ok", "register": "ok", "dns": "ok",
        "hostings": "ok", "service-info": "ok", "storage": "ok", "hfs": "ok", "file-storage": "ok", "core-down": "none",
        "database": "ok", "auth-request": "ok", "notifications": "ok", "api-version": "1.9.3-open"}
    response = call(sb, "POST", "/_sandbox/faults", json={"core": "down", "delay": "0.05"})
    assert response.status_code == 200 and response.json()["core"] == "down" and response.json()["delay"] == 0.05
    assert sb.faults["core"] == "down"
    for bad in ({"core": "sideways"}, {"nope": "ok"}, {"delay": -1}, {"delay": [1]}, ["core"],
                {"api-version": "1 9"}, {"api-version": 1.9}, {"hostings": "some"}, {"storage": "full"},
                {"core-down": "hosting3"}):
        assert call(sb, "POST", "/_sandbox/faults", json=bad).status_code == 400
    assert sb.faults["core"] == "down"
    assert call(sb, "POST", "/_sandbox/reset").json()["core"] == "ok"
    with pytest.raises(ValueError):
        sb.set_faults(dns="maybe")


def test_reset_restores_faults_and_data(sb):
    assert reg(sb, "POST", "/users", json={"appId": "pryv-test", "username": "newuser01", "password": "secret-1",
                                           "email": "new@example.com"}).status_code == 201
    sb.set_faults(token="rejected", dns="silent")
    sb.reset()
    assert sb.faults["dns"] == "ok"
    assert reg(sb, "GET", "/newuser01/check_username").json() == {"reserved": False}
    assert core(sb, "GET", "/events", headers=auth(sb.token)).status_code == 200  # the same health token


# ---- DNS

def test_dns_user_is_cname_then_core_address(sb):
    answer = ask(sb, f"{USER}.pryv.test")
    assert answer.rcode() == dns.rcode.NOERROR and answer.flags & dns.flags.AA
    assert [(str(r.name), r.ttl, dns.rdatatype.to_text(r.rdtype), [r.to_text() for r in r]) for r in answer.answer] == [
        (f"{USER}.pryv.test.", 60, "CNAME", ["co1.pryv.test."]), ("co1.pryv.test.", 60, "A", ["127.0.0.1"])]


def test_dns_aaaa_over_tcp(sb):
    answer = ask(sb, f"{USER}.PRYV.test", "AAAA", tcp=True)  # names are case-insensitive
    assert [rrset.to_text().lower() for rrset in answer.answer] == [
        f"{USER}.pryv.test. 60 in cname co1.pryv.test.", "co1.pryv.test. 60 in aaaa ::1"]


@pytest.mark.parametrize("name", ["pryv.test", "reg.pryv.test", "sw.pryv.test", "co1.pryv.test"])
def test_dns_platform_hosts(sb, name):
    assert [rrset.to_text() for rrset in ask(sb, name).answer] == [f"{name}. 60 IN A 127.0.0.1"]


def test_dns_unknown_user_is_empty_noerror_with_soa(sb):
    answer = ask(sb, "nobody01.pryv.test")
    assert answer.rcode() == dns.rcode.NOERROR and not answer.answer and answer.flags & dns.flags.AA
    assert answer.authority[0].rdtype == dns.rdatatype.SOA


def test_dns_out_of_zone_is_refused(sb):
    assert ask(sb, "example.com").rcode() == dns.rcode.REFUSED


def test_dns_knows_new_accounts(sb):
    body = {"hosting": "hosting1", "appid": "pryv-test", "username": "newuser02", "password": "secret-2",
            "email": "new2@example.com"}
    assert reg(sb, "POST", "/user", json=body).status_code == 200
    assert ask(sb, "newuser02.pryv.test").answer[0].rdtype == dns.rdatatype.CNAME


@pytest.mark.parametrize("fault, rcode", [("nxdomain", dns.rcode.NXDOMAIN), ("servfail", dns.rcode.SERVFAIL),
                                          ("refused", dns.rcode.REFUSED), ("empty", dns.rcode.NOERROR)])
def test_dns_faults(sb, fault, rcode):
    sb.set_faults(dns=fault)
    answer = ask(sb, f"{USER}.pryv.test")
    assert answer.rcode() == rcode and not answer.answer


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_dns_fault_silent_times_out(sb, tcp):
    sb.set_faults(dns="silent")
    with pytest.raises(dns.exception.Timeout):
        ask(sb, f"{USER}.pryv.test", tcp=tcp, timeout=0.3)


# ---- account creation

def test_register_legacy_create_user(sb):
    body = {"hosting": "hosting1", "appid": "pryv-test", "username": "NewUser03", "password": "secret-3",
            "email": "new3@example.com", "languageCode": "fr"}
    response = reg(sb, "POST", "/user", json=body)
    assert (response.status_code, response.json()) == (200, {
        "username": "newuser03", "server": "newuser03.pryv.test",
        "apiEndpoint": f"https://newuser03.pryv.test:{sb.http_port}/"})
    assert reg(sb, "GET", "/newuser03/check_username").json() == {"reserved": True}
    assert reg(sb, "POST", "/user", json=dict(body, email="other@example.com")).json()["id"] == "EXISTING_USER_NAME"
    response = reg(sb, "POST", "/user", json=dict(body, username="admin"))  # reserved, and the e-mail is taken
    assert response.status_code == 400
    assert response.json()["id"] == "INVALID_DATA"
    assert [e["id"] for e in response.json()["errors"]] == ["RESERVED_USER_NAME", "EXISTING_EMAIL"]


@pytest.mark.parametrize("change, error_id, message", [
    ({"hosting": None}, "INVALID_HOSTING", "Invalid hosting"),
    ({"hosting": "hosting2"}, "UNAVAILABLE_HOSTING", "Hosting not available"),
    ({"hosting": "hosting9"}, "UNAVAILABLE_HOSTING", "Hosting not available"),
    ({"appid": "app"}, "INVALID_APPID", "Invalid app id"),
    ({"username": "ab"}, "INVALID_USER_NAME", "Invalid user name"),
    ({"email": "nope"}, "INVALID_EMAIL", "Invalid email address"),
    ({"password": "123"}, "INVALID_PASSWORD", "Invalid password"),
    ({"languageCode": "english"}, "INVALID_LANGUAGE", "Invalid language code"),
    ({"email": f"{USER}@pryv.test"}, "EXISTING_EMAIL", "E-mail already exists"),
])
def test_register_legacy_create_user_errors(sb, change, error_id, message):
    body = {"hosting": "hosting1", "appid": "pryv-test", "username": "newuser04", "password": "secret-4",
            "email": "new4@example.com", **change}
    response = reg(sb, "POST", "/user", json={k: v for k, v in body.items() if v is not None})
    assert response.status_code == 400
    assert {k: response.json()[k] for k in ("id", "message", "errors")} == {"id": error_id, "message": message,
                                                                           "errors": []}


@pytest.mark.parametrize("dns_mode, path", [(True, "/users"), (False, "/reg/user"), (False, "/reg/users")])
def test_create_user_core_shape(sb, dns_mode, path):
    body = {"appid" if path == "/reg/user" else "appId": "pryv-test", "username": "newuser05", "password": "secret-5",
            "email": "new5@example.com", "hosting": "ignored"}
    response = reg(sb, "POST", path, json=body) if dns_mode else call(sb, "POST", path, json=body)
    assert response.status_code == 201
    created = without_meta(response)
    assert created["username"] == "newuser05"
    token, _, place = created["apiEndpoint"].partition("@")
    expected = f"newuser05.pryv.test:{sb.http_port}/" if dns_mode else f"localhost:{sb.http_port}/newuser05/"
    assert token.startswith("https://c") and place == expected
    personal = call(sb, "GET", "/newuser05/access-info", headers=auth(token[len("https://"):])).json()
    assert personal["type"] == "personal" and personal["user"] == {"username": "newuser05"}
    again = reg(sb, "POST", path, json=body) if dns_mode else call(sb, "POST", path, json=body)
    assert again.status_code == 409
    assert error(again) == {"id": "item-already-exists", "data": {"username": "newuser05", "email": "new5@example.com"},
                            "message": 'An user with username "newuser05", email "new5@example.com" already exists'}


def test_create_user_core_shape_bad_input(sb):
    response = call(sb, "POST", "/reg/users", json={"appId": "pryv-test", "username": "Bad", "password": "123",
                                                    "email": "new6@example.com"})
    assert response.status_code == 400
    assert error(response) == {"id": "invalid-parameters-format", "message": "The parameters' format is invalid.",
                               "data": [INVALID_USERNAME_ITEM,
                                        {"code": "password-invalid", "path": "#/password", "param": "password",
                                         "message": "Password should have between 5 and 23 characters"}]}


@pytest.mark.parametrize("app_id", [{"appId": "pryv-test"}, {}])
def test_create_user_dnsless_user_route_reads_appid_only(sb, app_id):
    """v2's /reg/user copies `appid` over `appId` (routes/auth/register.ts): an `appId` alone is missing."""
    response = call(sb, "POST", "/reg/user", json={"username": "newuser07", "password": "secret-7",
                                                   "email": "new7@example.com", **app_id})
    assert response.status_code == 400
    assert error(response) == {"id": "invalid-parameters-format", "message": "The parameters' format is invalid.",
                               "data": [{"code": "appid-invalid", "message": "Missing required field: appId",
                                         "path": "#/", "param": "appId"}]}
    response = call(sb, "POST", "/reg/users", json={"appId": "pryv", "username": "newuser07",
                                                    "email": "new7@example.com"})
    assert error(response)["data"] == [
        {"code": "password-required", "message": "Password is required", "path": "#/", "param": "password"},
        {"code": "appid-invalid", "message": "Invalid app Id", "path": "#/appId", "param": "appId"}]


@pytest.mark.parametrize("email, status, item", [
    ("new9@localhost", 201, None),  # v2 checks only that it is a string of up to 300 characters
    ("x" * 301, 400, {"code": "MAX_LENGTH", "message": "must NOT have more than 300 characters", "path": "#/email",
                      "param": "email"}),
    (None, 400, {"code": "email-required", "message": "Email is required", "path": "#/", "param": "email"}),
    (9, 400, {"code": "email-invalid", "message": "Invalid email", "path": "#/email", "param": "email"}),
])
def test_create_user_dnsless_email(sb, email, status, item):
    body = {"appId": "pryv-test", "username": "newuser09", "password": "secret-9", "email": email}
    response = call(sb, "POST", "/reg/users", json={k: v for k, v in body.items() if v is not None})
    assert response.status_code == status
    if item:
        assert error(response)["data"] == [item]


@pytest.mark.parametrize("name", ["admin", "pryv-anything"])
def test_create_user_dnsless_reserved_name_is_named_alone(sb, name):
    body = {"appId": "pryv-test", "username": name, "password": "secret-8", "email": f"{USER}@pryv.test"}
    response = call(sb, "POST", "/reg/users", json=body)
    assert response.status_code == 409
    assert error(response) == {"id": "item-already-exists", "data": {"username": name},
                               "message": f'An user with username "{name}" already exists'}


# ---- login, accesses

def test_login_with_trusted_origin(sb):
    response = login(sb)
    assert response.status_code == 200
    body = without_meta(response)
    assert body["preferredLanguage"] == "en"
    assert body["apiEndpoint"] == f"https://{body['token']}@{USER}.pryv.test:{sb.http_port}/"
    assert core(sb, "GET", "/access-info", headers=auth(body["token"])).json()["type"] == "personal"
    dnsless = call(sb, "POST", f"/{USER}/auth/login", headers={"Origin": f"https://localhost:{sb.http_port}"},
                   json={"username": USER, "password": sb.password, "appId": "pryv-test-app"})
    # a second login of the same app gets the same live session, as open-pryv.io does
    assert dnsless.status_code == 200 and dnsless.json()["token"] == body["token"]
    other_app = login(sb, appId="pryv-other-app")
    assert other_app.status_code == 200 and other_app.json()["token"] != body["token"]


@pytest.mark.parametrize("origin", [None, "https://evil.example", "https://pryv.test.evil.example",
                                    "http://sw.pryv.test", "https://localhost.evil.example", "http://localhost"])
def test_login_with_untrusted_origin(sb, origin):
    response = login(sb, origin=origin)
    assert response.status_code == 401
    assert error(response) == {"id": "invalid-credentials", "message": UNTRUSTED}


def test_login_errors(sb):
    response = login(sb, password="wrong-password")
    assert response.status_code == 401
    assert error(response) == {"id": "invalid-credentials", "message": "The given username/password pair is invalid."}
    response = login(sb, username="HealthMetrics01", appId="")  # v2 lower-cases the name; an empty app id is none
    assert response.status_code == 401 and error(response) == {"id": "invalid-credentials", "message": UNTRUSTED}
    response = login(sb, username="someoneelse")
    assert response.status_code == 400
    assert error(response) == {"id": "invalid-operation",
                               "message": "The username in the path does not match that of the credentials."}


def test_login_ignores_an_extra_field(sb):
    response = login(sb, language="en")
    assert response.status_code == 200 and without_meta(response)["token"]


@pytest.mark.parametrize("body", [{"username": USER, "password": "x"}, [], None])
def test_login_missing_field_is_invalid_operation(sb, body):
    response = core(sb, "POST", "/auth/login", json=body, headers={"Origin": "https://sw.pryv.test"})
    assert response.status_code == 400
    assert error(response) == {"id": "invalid-operation",
                               "message": "Missing parameters: username, password and appId are required."}


def test_login_field_of_wrong_type(sb):
    response = login(sb, password=123456, appId=None)
    assert response.status_code == 400
    assert error(response) == {"id": "invalid-parameters-format", "message": "The parameters' format is invalid.",
                               "data": [{"code": "INVALID_TYPE", "params": ["string"], "message": "must be string",
                                         "path": "#/password"},
                                        {"code": "INVALID_TYPE", "params": ["string"], "message": "must be string",
                                         "path": "#/appId"}]}


def test_login_follows_the_trusted_apps_setting(tmp_path):
    with Sandbox(scheme="http", state_dir=str(tmp_path), trusted_apps="pryv-test@https://app.example, "
                                                                      "*@https://*.partner.example*") as sb:
        for app_id, origin, status in (("pryv-test", "https://app.example", 200),
                                       ("other-app", "https://app.example", 401),
                                       ("pryv-test", "https://app.example:8443", 401),
                                       ("other-app", "https://eu.partner.example:8443/login", 200),
                                       ("pryv-test", "https://sw.pryv.test", 401)):
            assert login(sb, origin=origin, appId=app_id).status_code == status, (app_id, origin)
    with pytest.raises(ValueError, match=r"trusted apps: 'https://app.example' is not APP@ORIGIN"):
        Sandbox(scheme="http", state_dir=str(tmp_path), trusted_apps="https://app.example")


def test_cli_trusted_apps_option(tmp_path):
    result = run_cli("--trusted-apps", "app@https://a.example,", "--state-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.endswith("check_pryv_sandbox: error: trusted apps: '' is not APP@ORIGIN (APP may be *, "
                                  "ORIGIN may hold *)\n")


def test_login_session_expires(sb):
    sb.session_ttl = 0.2
    try:
        token = login(sb).json()["token"]
        assert core(sb, "GET", "/events", headers=auth(token)).status_code == 200
        time.sleep(0.3)
        response = core(sb, "GET", "/events", headers=auth(token))
    finally:
        sb.session_ttl = 14 * 24 * 3600
    assert response.status_code == 403
    assert error(response) == {"id": "invalid-access-token", "message": "Access session has expired."}


def test_accesses_create_conflict_and_list(sb):
    session_token = login(sb).json()["token"]
    session = auth(session_token)
    permissions = [{"streamId": "diary", "level": "read"}]
    response = core(sb, "POST", "/accesses", headers=session, json={"name": "reader", "permissions": permissions})
    assert response.status_code == 201
    access = without_meta(response)["access"]
    assert set(access) == {"name", "permissions", "type", "token", "created", "createdBy", "modified",
                           "modifiedBy", "id", "apiEndpoint", "deviceName", "integrity"}
    assert access["deviceName"] is None and access["integrity"].startswith("ACCESS:0:sha256-")
    assert (access["name"], access["type"], access["permissions"]) == ("reader", "shared", permissions)
    assert access["apiEndpoint"] == f"https://{access['token']}@{USER}.pryv.test:{sb.http_port}/"
    assert core(sb, "GET", "/events", headers=auth(access["token"])).json()["events"] == []  # no "diary" event

    response = core(sb, "POST", "/accesses", headers=session,
                    json={"name": "metricsAccess", "permissions": [{"streamId": "*", "level": "manage"}]})
    assert response.status_code == 409
    assert error(response)["data"] == {"type": "shared", "name": "metricsAccess", "deviceName": None}

    listed = core(sb, "GET", "/accesses", headers=session).json()["accesses"]
    assert {(a["name"], a["token"]) for a in listed} == {  # the personal one too, as v2 lists it
        ("metricsAccess", sb.token), ("reader", access["token"]), ("pryv-test-app", session_token)}
    response = core(sb, "GET", "/accesses", headers=auth(sb.token))  # a shared access may not list accesses
    assert response.status_code == 403
    assert error(response) == {"id": "forbidden",
                               "message": "You cannot access accesses.get resource using the given access"}
    response = core(sb, "POST", "/accesses", headers=auth(sb.token), json={"name": "x", "permissions": permissions})
    assert response.status_code == 403
    assert error(response) == {"id": "forbidden",
                               "message": "You cannot access accesses.create resource using the given access"}


def test_access_with_expiry_expires(sb):
    session = auth(login(sb).json()["token"])
    access = core(sb, "POST", "/accesses", headers=session, json={
        "name": "short", "permissions": [{"streamId": "*", "level": "read"}], "expireAfter": 0}).json()["access"]
    response = core(sb, "GET", "/events", headers=auth(access["token"]))
    assert response.status_code == 403
    assert error(response) == {"id": "forbidden", "message": "Access has expired."}
    assert response.headers["Pryv-Access-Id"] == access["id"]


def test_access_info(sb):
    response = core(sb, "GET", "/access-info", headers=auth(sb.token))
    body = without_meta(response)
    assert {k: body[k] for k in ("token", "type", "name", "permissions", "user")} == {
        "token": sb.token, "type": "shared", "name": "metricsAccess", "user": {"username": USER},
        "permissions": [{"streamId": ":_system:account", "level": "none"}, {"streamId": "*", "level": "manage"},
                        {"streamId": f":_audit:access-{body['id']}", "level": "read"}]}  # v2's AccessLogic.ts
    assert "expires" not in body
    personal = core(sb, "GET", "/access-info", headers=auth(login(sb).json()["token"])).json()
    assert "permissions" not in personal and "integrity" not in personal  # v2 keeps none; shows no integrity


def test_access_usage_is_counted_after_each_call_that_succeeds(sb):
    first = without_meta(core(sb, "GET", "/access-info", headers=auth(sb.token)))
    assert "lastUsed" not in first and "calls" not in first  # counted once the call has answered, as v2 does
    events = core(sb, "GET", "/events", headers=auth(sb.token)).json()["events"]
    assert set(events[0]) == {"id", "time", "streamIds", "type", "content", "created", "createdBy", "modified",
                              "modifiedBy", "integrity"}  # v2's keys: no v1 streamId, no empty tags
    assert core(sb, "GET", "/events?limit=abc", headers=auth(sb.token)).status_code == 400  # not counted
    info = without_meta(core(sb, "GET", "/access-info", headers=auth(sb.token)))
    assert info["calls"] == {"getAccessInfo": 1, "events:get": 1}
    assert time.time() - 5 < info["lastUsed"] <= time.time()
    listed = core(sb, "GET", "/accesses", headers=auth(login(sb).json()["token"])).json()["accesses"]
    health = next(access for access in listed if access["token"] == sb.token)
    assert "lastUsed" in health and "calls" not in health  # accesses.get leaves the counts out


# ---- hostings and service info

def test_hostings(sb):
    zone = reg(sb, "GET", "/hostings").json()["regions"]["europe"]["zones"]["switzerland"]
    assert {name: h["available"] for name, h in zone["hostings"].items()} == {"hosting1": True, "hosting2": False}
    response = call(sb, "GET", "/reg/hostings")  # v2 with no hostings setting (methods/auth/register.ts)
    assert without_meta(response) == {"regions": {"default": {"name": "Default", "zones": {"default": {
        "name": "Default", "hostings": {"default": {"name": "Default", "available": True,
                                                    "availableCore": f"https://localhost:{sb.http_port}/"}}}}}}}


def test_service_info(sb):
    info = reg(sb, "GET", "/service/info").json()
    assert "meta" not in info
    assert (info["api"], info["register"]) == (f"https://{{username}}.pryv.test:{sb.http_port}/",
                                               f"https://reg.pryv.test:{sb.http_port}/")
    for path in ("/reg/service/info", f"/{USER}/service/info"):  # v2 serves it under each user's path too
        info = without_meta(call(sb, "GET", path))
        assert (info["api"], info["register"]) == (f"https://localhost:{sb.http_port}/{{username}}/",
                                                   f"https://localhost:{sb.http_port}/reg/")
        assert info["assets"] == {"definitions": f"https://localhost:{sb.http_port}/www/assets/index.json"}
        assert (info["serial"], info["features"]) == ("2019061301", {"contentQueries": True})
    info = without_meta(core(sb, "GET", "/service/info"))
    assert (info["api"], info["features"]) == (f"https://{{username}}.pryv.test:{sb.http_port}/",
                                               {"contentQueries": True})
    assert core(sb, "GET", "/service/info", user="nobody01").status_code == 404


@pytest.mark.parametrize("fault, dns_mode, available", [
    ("ok", True, {"hosting1": True, "hosting2": False}),
    ("all-available", True, {"hosting1": True, "hosting2": True}),
    ("none-available", True, {"hosting1": False, "hosting2": False}),
    ("ok", False, {"default": True}),
    ("all-available", False, {"default": True}),
    ("none-available", False, {"default": False}),
])
def test_fault_hostings(sb, fault, dns_mode, available):
    sb.set_faults(hostings=fault)
    if dns_mode:
        zone = reg(sb, "GET", "/hostings").json()["regions"]["europe"]["zones"]["switzerland"]
    else:
        zone = call(sb, "GET", "/reg/hostings").json()["regions"]["default"]["zones"]["default"]
    assert {name: h["available"] for name, h in zone["hostings"].items()} == available
    assert all(bool(h["availableCore"]) == h["available"] for h in zone["hostings"].values())


def test_fault_hostings_applies_to_account_creation(sb):
    body = {"appid": "pryv-test", "username": "newuser05", "password": "secret-5", "email": "n5@example.com"}
    sb.set_faults(hostings="none-available")
    assert reg(sb, "POST", "/user", json={**body, "hosting": "hosting1"}).json()["id"] == "UNAVAILABLE_HOSTING"
    sb.set_faults(hostings="all-available")
    assert reg(sb, "POST", "/user", json={**body, "hosting": "hosting2"}).status_code == 200


def test_fault_service_info(sb):
    port = sb.http_port
    sb.set_faults(service_info="mismatch")  # a Python name for service-info
    assert sb.faults["service-info"] == "mismatch"
    info = reg(sb, "GET", "/service/info").json()
    assert (info["api"], info["register"]) == (f"https://{{username}}.old-pryv.test:{port}/",
                                               f"https://reg.old-pryv.test:{port}/")
    info = call(sb, "GET", "/reg/service/info").json()
    assert (info["api"], info["register"]) == (f"https://old-localhost:{port}/{{username}}/",
                                               f"https://old-localhost:{port}/reg/")
    sb.set_faults(**{"service-info": "incomplete"})
    info = reg(sb, "GET", "/service/info").json()
    assert "api" not in info and "access" not in info and info["register"] == f"https://reg.pryv.test:{port}/"


def test_fault_api_version(sb):
    assert call(sb, "POST", "/_sandbox/faults", json={"api-version": "1.10.2"}).json()["api-version"] == "1.10.2"
    response = core(sb, "GET", "/events?limit=1", headers=auth(sb.token))
    assert response.headers["API-Version"] == "1.10.2" and response.json()["meta"]["apiVersion"] == "1.10.2"
    assert len(response.json()["events"]) == 1
    assert reg(sb, "GET", "/service/info").json()["version"] == "1.10.2"
    assert call(sb, "GET", f"/reg/{USER}/check_username").json()["meta"]["apiVersion"] == "1.10.2"
    sb.set_faults(api_version="1.9.3-open", skew=100)  # both rewrite meta
    meta = core(sb, "GET", "/events?limit=1", headers=auth(sb.token)).json()["meta"]
    assert meta["apiVersion"] == "1.9.3-open" and meta["serverTime"] - time.time() > 90


@pytest.mark.parametrize("days", [10, -2])
def test_certificate_lifetime(tmp_path, days):
    from check_pryv import certificate

    with Sandbox(state_dir=str(tmp_path), cert_days=days) as sb:
        der = certificate.fetch("127.0.0.1", sb.http_port, "reg.pryv.test", 5)
        left = certificate.parse(der).days_left()
        assert days - 0.01 < left <= days
        if days > 0:  # verified with its CA
            assert reg(sb, "GET", "/hostings").status_code == 200
        else:
            with pytest.raises(requests.exceptions.SSLError, match="certificate has expired"):
                reg(sb, "GET", "/hostings")
    with pytest.raises(ValueError):
        Sandbox(state_dir=str(tmp_path), cert_days=float("nan"))


# ---- plain HTTP, and the command line

def test_plain_http_mode(tmp_path):
    with Sandbox(scheme="http", state_dir=str(tmp_path)) as sb:
        assert sb.ca_file is None and not (tmp_path / "ca.pem").exists()
        response = core(sb, "GET", "/events?limit=1", headers=auth(sb.token))
        assert response.status_code == 200 and len(response.json()["events"]) == 1
        assert sb.command_lines()[1][1][-2:] == ["--scheme", "http"]
    with pytest.raises(requests.ConnectionError):
        core(sb, "GET", "/events")


def run_cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "check_pryv.sandbox", *args], capture_output=True, text=True,
                          timeout=60, **kwargs)


def test_cli_help():
    result = run_cli("--help")
    assert result.returncode == 0
    assert "--fault NAME=VALUE" in result.stdout and "dns=ok|nxdomain" in result.stdout
    for fault in ("hostings=ok|all-available|none-available", "service-info=ok|mismatch|incomplete",
                  "api-version=VERSION", "--cert-days DAYS"):
        assert fault in result.stdout


def test_cli_rejects_bad_fault():
    result = run_cli("--fault", "core=sideways")
    assert result.returncode == 2 and "fault core takes one of ok, down" in result.stderr


def test_cli_runs_until_sigterm(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "check_pryv.sandbox", "--scheme", "http", "--state-dir",
                                str(tmp_path), "--fault", "core=down"], stdout=subprocess.PIPE, text=True)
    try:
        lines = []
        while not lines or not lines[-1].startswith("Stop with"):
            lines.append(process.stdout.readline())
            assert lines[-1], "the sandbox exited early"
        output = "".join(lines)
        assert f"--token-file {tmp_path / 'token'}" in output and "check_pryv_dns --domain pryv.test" in output
        port = next(line.split()[2].split(":")[1] for line in lines if line.startswith("  HTTP server"))
        assert requests.get(f"http://127.0.0.1:{port}/_sandbox/faults", timeout=5).json()["core"] == "down"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
        process.stdout.close()


def test_cli_demo_runs_every_plugin(tmp_path):
    result = run_cli("--demo", "--state-dir", str(tmp_path))
    for label in ("dns", "register, DNS mode", "core, DNS mode", "register, DNS-less", "core, DNS-less",
                  "core, DNS-less, every part", "platform, DNS-less", "platform, DNS mode"):
        assert f"== {label}\n" in result.stdout
    assert result.stdout.count("exit code: ") == 8
    assert result.stdout.count("exit code: 0\n") == 8, result.stdout
    assert result.returncode == 0
    assert re.search(r"^PRYV_CORE OK - .*; first run: stream check-pryv and its event created, read back; series: "
                     r"event created in stream check-pryv, point read back; attachment read back; eventsChanged "
                     r"\d\.\d{3}s after the change \| ", result.stdout,
                     re.M), result.stdout


def test_cli_without_trustme_says_so_for_https_and_runs_plain_http(tmp_path):
    """Installed without the sandbox extra: no traceback, a one-line message; plain HTTP needs no trustme."""
    shim = tmp_path / "shim"
    shim.mkdir()  # ahead of site-packages on sys.path: `import trustme` fails as for an absent package
    (shim / "trustme.py").write_text("raise ModuleNotFoundError(\"No module named 'trustme'\", name='trustme')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(shim), os.environ.get("PYTHONPATH")])))
    result = run_cli("--state-dir", str(tmp_path / "https"), env=env)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == ("check_pryv_sandbox: cannot start: HTTPS needs the trustme package, which is not "
                             "installed: pip install 'check_pryv[sandbox]', or run with --scheme http\n")
    assert not (tmp_path / "https" / "token").exists()  # nothing written by a sandbox that did not start
    result = run_cli("--state-dir", str(tmp_path / "http"), "--scheme", "http", "--demo", env=env)
    assert (result.returncode, result.stdout.count("exit code: 0\n")) == (0, 8), result.stdout + result.stderr
