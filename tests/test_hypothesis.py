"""Random answers from a real server: whatever it says, the HTTP plugins judge it and print a valid result.

Each example is one HTTP answer (status, reason, headers, body, framing) served over a real socket, and
both HTTP plugins run against it as real processes. Whatever the answer, a plugin exits 0, 1 or 2 (the
server's answer never leaves it unable to judge), prints a well-formed first line and valid perfdata,
no traceback and nothing on stderr, and never the token, even when the server echoes the request back.
"""
import concurrent.futures
import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import run_plugin
from faultservers import HTTPFault, answer

TOKEN = "ckhypothesis0token1secret"
SERVICES = {"register": "PRYV_REGISTER", "core": "PRYV_CORE"}
FIRST_LINE = re.compile(r"^(PRYV_REGISTER|PRYV_CORE) (OK|WARNING|CRITICAL) - ([^|\x00-\x1f\x7f]+?)(?: \| (.*))?$")
PERF_ITEM = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(-?\d+(?:\.\d+)?)(s|B|%|c)?((?:;[^;]*){0,4})$")
PERF_RANGE = re.compile(r"^(@?(~|-?\d+(\.\d+)?)?:?(-?\d+(\.\d+)?)?)?$")
KEYS = ["events", "reserved", "error", "id", "message", "data", "meta", "serverTime", "apiVersion", "coreUrl",
        "serial", "reason"]
PRINTABLE = st.characters(min_codepoint=0x20, max_codepoint=0x7E)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8),
                                                              inner, max_size=5),
    max_leaves=20)
bodies = st.one_of(
    st.dictionaries(st.sampled_from(KEYS), json_values, max_size=6).map(lambda d: json.dumps(d).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.text(max_size=300).map(lambda t: t.encode("utf-8")),
    st.text(PRINTABLE, max_size=80).map(lambda t: ("<html><title>%s</title></html>" % t).encode()),
    st.binary(max_size=3000),
    st.just(b"{{REQUEST}}"),  # the server echoes the request, Authorization header included
)
headers = st.lists(st.tuples(
    st.sampled_from(["Content-Type", "Location", "API-Version", "Content-Encoding", "Transfer-Encoding",
                     "Content-Length", "Connection", "Set-Cookie", "Retry-After", "X-Pryv"]),
    st.text(PRINTABLE, max_size=60) | st.just("{{REQUEST}}")), max_size=5)
answers = st.fixed_dictionaries({
    "status": st.integers(100, 599) | st.sampled_from([200, 301, 302, 401, 403, 404, 421, 500, 502, 503, 504]),
    "reason": st.text(PRINTABLE, max_size=30),
    "headers": headers,
    "body": bodies,
    "framing": st.sampled_from(["length", "close", "chunked", "overstated-length"]),
})


def render(spec, request):
    """The bytes of the answer `spec`, given the request it answers."""
    echo = request.decode("latin-1").replace("\r\n", " ")
    body = spec["body"].replace(b"{{REQUEST}}", echo.encode("latin-1"))
    lines = ["HTTP/1.1 %d %s" % (spec["status"], spec["reason"])]
    lines += ["%s: %s" % (name, value.replace("{{REQUEST}}", echo)) for name, value in spec["headers"]]
    if spec["framing"] == "length":
        lines.append("Content-Length: %d" % len(body))
    elif spec["framing"] == "overstated-length":
        lines.append("Content-Length: %d" % (len(body) + 10))
    elif spec["framing"] == "chunked":
        lines.append("Transfer-Encoding: chunked")
        body = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:100], body[100:]) if part) + b"0\r\n\r\n"
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@pytest.fixture(scope="module")
def server():
    current = {}
    with HTTPFault(answer(lambda request: render(current["spec"], request))) as fault:
        fault.current = current
        yield fault


@pytest.fixture(scope="module")
def pool():
    with concurrent.futures.ThreadPoolExecutor(2) as executor:
        yield executor


def check_perfdata(text):
    items = dict()
    for item in text.split(" "):
        match = PERF_ITEM.match(item)
        assert match, "bad perfdata %r" % item
        assert all(PERF_RANGE.match(field) for field in match.group(4).split(";")[1:]), item
        items[match.group(1)] = match
    assert "time" in items and items["time"].group(4).endswith(";0;3"), text  # min 0, max the timeout
    return items


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(spec=answers, verbose=st.booleans())
def test_any_answer_gets_a_valid_result(server, pool, spec, verbose):
    server.current["spec"] = spec
    common = ["--domain", "pryv.test", "--address", "127.0.0.1", "--port", str(server.port), "--scheme", "http",
              "-t", "3"] + (["-vv"] if verbose else [])
    runs = {"register": pool.submit(run_plugin, "check_pryv_register", *common),
            "core": pool.submit(run_plugin, "check_pryv_core", *common, env={"PRYV_ACCESS_TOKEN": TOKEN})}
    for plugin, future in runs.items():
        result = future.result()
        output = result.stdout + result.stderr
        assert TOKEN not in output, output
        assert "Traceback" not in output and result.stderr == "", output
        assert result.returncode in (0, 1, 2), output
        lines = result.stdout.splitlines()
        match = FIRST_LINE.match(lines[0])
        assert match and match.group(1) == SERVICES[plugin], lines[0]
        assert ["OK", "WARNING", "CRITICAL"].index(match.group(2)) == result.returncode, lines[0]
        if verbose:
            assert match.group(4) is None and lines[-1].startswith("| "), result.stdout
            check_perfdata(lines[-1][2:])
        else:
            assert len(lines) == 1 and match.group(4), result.stdout
            check_perfdata(match.group(4))
