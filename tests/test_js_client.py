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
from dataclasses import dataclass

import pytest

from conftest import cannot
from realserver import BUILD

JS = pathlib.Path(__file__).resolve().parent / "js"
NODE = BUILD / "node" / "bin" / "node"
APP_ID = "pryv-metrics"
JS_USER, JS_PASSWORD = "jsclient01", "jsclient-pass"  # the real server's account for these tests
CALLS = ["info", "login", "accessInfo", "events", "batch"]
UNTRUSTED = "https://untrusted.example"


@dataclass
class Target:
    """One platform as the JS client sees it: its root URL, CA, account and an Origin it trusts."""
    url: str
    ca_file: str
    username: str
    password: str
    trusted_origin: str

    def run_client(self, origin):
        """Run pryv-client.js with `origin` ("" for lib-js's own default); return its JSON summary."""
        if not os.access(NODE, os.X_OK):
            cannot("Node 24 is not built in %s: run .ci/real-server-build (CHECK_PRYV_REAL_SERVER names the "
                   "directory)" % NODE.parent)
        if not (JS / "node_modules" / "pryv" / "package.json").is_file():
            cannot("the npm package pryv is not installed in %s: run npm ci there (.ci/run does)" % JS)
        env = {"PATH": os.environ.get("PATH", ""), "NODE_EXTRA_CA_CERTS": self.ca_file,
               "PRYV_PASSWORD": self.password}
        done = subprocess.run([str(NODE), "pryv-client.js", self.url + "reg/service/info", self.username, APP_ID,
                               origin], cwd=JS, env=env, capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)
        assert done.returncode == 0, done.stderr
        assert self.password not in done.stdout + done.stderr
        return json.loads(done.stdout)


@pytest.fixture(scope="module")
def real_target(real_server):
    real_server.delete_user(JS_USER)  # left by an earlier run against a server that outlived it
    created = real_server.request("POST", "reg/users", json={
        "appId": APP_ID, "username": JS_USER, "password": JS_PASSWORD, "email": JS_USER + "@example.com"})
    assert created.status_code == 201, created.text
    yield Target(real_server.public_url, real_server.ca_file, JS_USER, JS_PASSWORD, real_server.trusted_origin)
    real_server.delete_user(JS_USER)


@pytest.fixture(params=["sandbox", "real server"])
def target(request):
    if request.param == "real server":
        return request.getfixturevalue("real_target")
    sandbox = request.getfixturevalue("sandbox")
    return Target("https://%s:%d/" % (sandbox.hostname, sandbox.http_port), sandbox.ca_file, sandbox.username,
                  sandbox.password, "https://" + sandbox.hostname)


@pytest.mark.parametrize("origin", ["trusted", "lib-js default"])
def test_js_client_every_call_succeeds(target, origin):
    summary = target.run_client(target.trusted_origin if origin == "trusted" else "")
    failed = {call: summary.get(call, {"ok": False, "error": "not run"}).get("error")
              for call in CALLS if not summary.get(call, {}).get("ok")}
    assert failed == {}
    assert summary["info"]["api"] == target.url + "{username}/"
    assert summary["info"]["register"] == target.url + "reg/"
    assert summary["login"]["endpoint"] == target.url + target.username + "/"
    assert summary["accessInfo"] == {"ok": True, "type": "personal", "name": APP_ID, "username": target.username}
    assert summary["events"] == {"ok": True, "count": 1}  # a seeded event; the real one: a system event
    assert summary["batch"] == {"ok": True, "results": [["events"], ["accesses"]]}


def test_js_client_login_from_an_untrusted_origin_is_refused(target):
    summary = target.run_client(UNTRUSTED)
    assert summary["info"]["ok"] is True
    assert summary["login"] == {"ok": False, "error": 'The app id ("appId") is either missing or not trusted.'}
    assert list(summary) == ["info", "login"]
