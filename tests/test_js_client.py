"""The official Pryv JavaScript client (npm `pryv`, tests/js) as a second real client, against both platforms.

tests/js/pryv-client.js runs what an app does first: `new pryv.Service(serviceInfoUrl).info()`,
`service.login(...)`, `connection.accessInfo()`, `connection.get('events', {limit: 1})` and the batch call
`connection.api([...])`, and prints what each saw. It runs on the real server's Node 24 (its build directory),
with the package that `npm ci` installed in tests/js (.ci/run does it).
"""
import json
import os
import pathlib
import subprocess

import pytest

from conftest import cannot
from realserver import BUILD

JS = pathlib.Path(__file__).resolve().parent / "js"
NODE = BUILD / "node" / "bin" / "node"
APP_ID = "pryv-metrics"
JS_USER, JS_PASSWORD = "jsclient01", "jsclient-pass"  # the real server's account for this test
CALLS = ["info", "login", "accessInfo", "events", "batch"]


def run_client(service_info_url, ca_file, username, password, origin):
    if not os.access(NODE, os.X_OK):
        cannot("Node 24 is not built in %s: run .ci/real-server-build (CHECK_PRYV_REAL_SERVER names the directory)"
               % NODE.parent)
    if not (JS / "node_modules" / "pryv" / "package.json").is_file():
        cannot("the npm package pryv is not installed in %s: run npm ci there (.ci/run does)" % JS)
    env = {"PATH": os.environ.get("PATH", ""), "NODE_EXTRA_CA_CERTS": ca_file, "PRYV_PASSWORD": password}
    done = subprocess.run([str(NODE), "pryv-client.js", service_info_url, username, APP_ID, origin], cwd=JS,
                          env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert password not in done.stdout + done.stderr
    return json.loads(done.stdout)


def assert_every_call_succeeded(summary, platform_url, username):
    failed = {call: summary.get(call, {"ok": False, "error": "not run"}).get("error")
              for call in CALLS if not summary.get(call, {}).get("ok")}
    assert failed == {}
    assert summary["info"]["api"] == platform_url + "{username}/"
    assert summary["info"]["register"] == platform_url + "reg/"
    assert summary["login"]["endpoint"] == platform_url + username + "/"
    assert (summary["accessInfo"]["type"], summary["accessInfo"]["name"]) == ("personal", APP_ID)
    assert summary["accessInfo"]["username"] == username
    assert summary["events"]["count"] in (0, 1)
    assert summary["batch"]["results"] == [["events"], ["accesses"]]


def test_js_client_on_the_sandbox(sandbox):
    url = "https://%s:%d/" % (sandbox.hostname, sandbox.http_port)
    summary = run_client(url + "reg/service/info", sandbox.ca_file, sandbox.username, sandbox.password,
                         "https://" + sandbox.hostname)
    assert_every_call_succeeded(summary, url, sandbox.username)
    assert summary["events"]["count"] == 1  # the sandbox's account has events


def test_js_client_on_the_real_server(real_server):
    real_server.delete_user(JS_USER)  # left by an earlier run against a server that outlived it
    created = real_server.request("POST", "reg/users", json={
        "appId": APP_ID, "username": JS_USER, "password": JS_PASSWORD, "email": JS_USER + "@example.com"})
    assert created.status_code == 201, created.text
    try:
        summary = run_client(real_server.public_url + "reg/service/info", real_server.ca_file, JS_USER,
                             JS_PASSWORD, real_server.trusted_origin)
    finally:
        real_server.delete_user(JS_USER)
    assert_every_call_succeeded(summary, real_server.public_url, JS_USER)


@pytest.mark.parametrize("origin", ["https://untrusted.example"])
def test_js_client_login_from_an_untrusted_origin_fails_on_the_sandbox(sandbox, origin):
    url = "https://%s:%d/" % (sandbox.hostname, sandbox.http_port)
    summary = run_client(url + "reg/service/info", sandbox.ca_file, sandbox.username, sandbox.password, origin)
    assert summary["info"]["ok"] is True
    assert summary["login"] == {"ok": False, "error": 'The app id ("appId") is either missing or not trusted.'}
    assert list(summary) == ["info", "login"]
