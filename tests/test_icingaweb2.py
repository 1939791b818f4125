"""What an admin reads in Icinga Web 2, proven in a real browser.

A real icinga2 runs the shipped pryv-commands.conf and pryv-services.conf against two sandboxes, a healthy one
and a broken one (its health account's access has expired), and writes its results to the IDO database of
Debian's Icinga Web 2 (set up by .ci/icingaweb2-setup, see tests/icingaweb2.py). Headless Chromium logs in and
opens the list of pryv services and the detail pages; the test asserts on what they show: the states, the status
line, the notes and their link, the long output with its `what to do:` line, the perfdata table. Screenshots for a
person to look at: build/icingaweb2/venv/ (or deb/, for the installed package's run).

Without Icinga Web 2 these tests skip, unless CHECK_PRYV_REQUIRE_DAEMONS=1 (CI) makes them fail.
"""
from pathlib import Path

import pytest

import icingaweb2
from check_pryv import advice
from check_pryv.sandbox import Sandbox
from conftest import PLUGIN_DIR, cannot, dns_mode_args
from test_icinga2 import SHIPPED, dns_args, dsl_vars, host_vars, q, run_checks

REPO = Path(__file__).resolve().parent.parent
SHOTS = REPO / "build" / "icingaweb2" / ("deb" if PLUGIN_DIR else "venv")
HEALTHY, BROKEN = "pryv-healthy", "pryv-broken"
SERVICES = ["pryv-dns", "pryv-register", "pryv-core", "pryv-hostings", "pryv-service-info", "pryv-certificate",
            "pryv-core-certificate"]
DOCS_URL = "http://127.0.0.1/check-pryv"
EXPIRED = "PRYV_CORE CRITICAL - access forbidden (403 forbidden): Access has expired"


@pytest.fixture(scope="module")
def web():
    return icingaweb2.facts(cannot)


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    with Sandbox(state_dir=str(tmp_path_factory.mktemp("broken"))) as sb:
        sb.set_faults(token="expired")
        yield sb


def platform_host(name, sb):
    """A DNS-mode host with every opt-in service of pryv-services.conf, as pryv-hosts.conf.example has it (the
    hostings that the sandbox says are available)."""
    variables = host_vars("dns", dns_args(sb))
    variables.update(host_vars(None, dns_mode_args(sb)))
    variables.update(pryv_dns_server=["127.0.0.1"], pryv_core_token=sb.token, pryv_hostings=["hosting1"],
                     pryv_service_info=True, pryv_certificate_days="30,14", pryv_docs_url=DOCS_URL)
    return 'object Host %s {\n\tcheck_command = "dummy"\n\taddress = "127.0.0.1"\n%s\n}\n' % (
        q(name), dsl_vars(variables))


@pytest.fixture(scope="module")
def shown(web, sandbox_session, broken, tmp_path_factory):
    """icinga2 fills the IDO with both hosts' results (the broken core's HARD); then what the browser sees."""
    sandbox_session.reset()
    config = "\n".join(['include %s' % q(SHIPPED / name) for name in ("pryv-commands.conf", "pryv-services.conf")]
                       + [platform_host(HEALTHY, sandbox_session), platform_host(BROKEN, broken)])
    with icingaweb2.icinga2_filling_ido(web, tmp_path_factory.mktemp("icinga2-ido"), config) as api:
        for host in (HEALTHY, BROKEN):  # host checks are off: say they are up
            api.post("/actions/process-check-result", {"type": "Host", "filter": "host.name == %s" % q(host),
                                                      "exit_status": 0, "plugin_output": "UP"})
        # The core first, as its interval (1m, against the certificates' 1h) makes it: its third failure is its
        # HARD state, before the broken certificate service fails (and finds it unreachable).
        cores = ["%s!pryv-core" % host for host in (HEALTHY, BROKEN)]
        others = ["%s!%s" % (host, service) for host in (HEALTHY, BROKEN) for service in SERVICES
                  if service != "pryv-core"]
        for names in (cores, others):
            for _ in range(3):  # max_check_attempts
                run_checks(api, names)
        api.attrs = {r["name"]: r["attrs"] for r in api.get("/objects/services", attrs=[
            "state", "state_type", "notes", "notes_url", "action_url", "last_reachable"])}
        api.seen = icingaweb2.look(web, [
            {"name": "services", "path": "/monitoring/list/services?service=pryv*&limit=50",
             "wait_for": [EXPIRED, "PRYV_CORE OK - events answered 200"]},
            {"name": "healthy-core", "path": "/monitoring/service/show?host=%s&service=pryv-core" % HEALTHY,
             "wait_for": ["PRYV_CORE OK - events answered 200"]},
            {"name": "broken-core", "path": "/monitoring/service/show?host=%s&service=pryv-core" % BROKEN,
             "wait_for": [EXPIRED, "what to do: "]},
            {"name": "healthy-core-certificate",
             "path": "/monitoring/service/show?host=%s&service=pryv-core-certificate" % HEALTHY,
             "wait_for": ["PRYV_CORE OK - certificate of "]},
            {"name": "healthy-register", "path": "/monitoring/service/show?host=%s&service=pryv-register" % HEALTHY,
             "wait_for": ["PRYV_REGISTER OK - register knows"]},
        ], SHOTS)
        yield api


def test_services_list_shows_each_state_and_status_line(shown):
    """Every service of both hosts; all OK but the broken core, CRITICAL, and its certificate service (the same
    call), CRITICAL and unreachable: one alert for the fault."""
    page = shown.seen["services"]
    assert not page["missing"], page["text"]
    rows = {(row["text"].split("\n")[3].split(" on ")[1], row["text"].split("\n")[3].split(" on ")[0]): row
            for row in page["rows"]}  # state, for ..., (icons), "DISPLAY NAME on HOST", "", status line
    assert len(rows) == len(page["rows"]) == 2 * len(SERVICES), [r["text"] for r in page["rows"]]
    for (host, display), row in rows.items():
        critical = host == BROKEN and display.startswith("Pryv core")
        assert ("state-critical" if critical else "state-ok") in row["state"], row
    assert EXPIRED in rows[BROKEN, "Pryv core"]["text"], rows[BROKEN, "Pryv core"]
    assert shown.attrs["%s!pryv-core-certificate" % BROKEN]["last_reachable"] is False
    assert shown.attrs["%s!pryv-core" % BROKEN]["last_reachable"] is True


def test_broken_core_detail_shows_state_status_line_notes_long_output_and_what_to_do(shown, broken):
    page = shown.seen["broken-core"]
    assert not page["missing"], page["text"]
    assert "state-critical" in page["states"][-1], page["states"]  # the host first, then the service
    lines = page["output"].splitlines()
    assert lines[0] == EXPIRED, page["output"]
    assert "url: https://healthmetrics01.%s:%d/events?limit=1" % (broken.domain, broken.http_port) in lines
    assert "status: 403 Forbidden" in lines, lines
    assert lines[-1] == "what to do: " + advice.advice("access forbidden"), lines
    assert shown.attrs["%s!pryv-core" % BROKEN]["state_type"] == 1  # HARD
    assert_notes(shown, page, BROKEN)
    assert_perfdata(page, ["time", "clock_skew"])


def test_healthy_core_detail_shows_ok_long_output_and_no_advice(shown, sandbox_session):
    page = shown.seen["healthy-core"]
    assert not page["missing"], page["text"]
    assert "state-ok" in page["states"][-1], page["states"]
    lines = page["output"].splitlines()
    assert lines[0].startswith("PRYV_CORE OK - events answered 200 in "), lines
    assert "status: 200 OK" in lines and not any(line.startswith("what to do") for line in lines), lines
    assert_notes(shown, page, HEALTHY)
    assert_perfdata(page, ["time", "clock_skew"])


def test_certificate_detail_leads_with_the_certificate(shown, sandbox_session):
    page = shown.seen["healthy-core-certificate"]
    assert not page["missing"], page["text"]
    first = page["output"].splitlines()[0]
    assert first.startswith("PRYV_CORE OK - certificate of healthmetrics01.%s valid for " % sandbox_session.domain)
    assert "; events answered 200 in " in first, first
    assert_perfdata(page, ["certificate_days", "time", "clock_skew"])


def test_register_detail_links_to_its_service_info(shown, sandbox_session):
    page = shown.seen["healthy-register"]
    assert not page["missing"], page["text"]
    hrefs = [link["href"] for link in page["links"]]
    assert "https://reg.%s:%d/service/info" % (sandbox_session.domain, sandbox_session.http_port) in hrefs, hrefs
    assert DOCS_URL + "/plugins.html#check-pryv-register" in hrefs, hrefs


def assert_notes(shown, page, host):
    notes = shown.attrs["%s!pryv-core" % host]["notes"]
    assert notes.startswith("The health account's core serves its events"), notes
    assert " ".join(page["notes"].split()) == notes, page["notes"]
    assert DOCS_URL + "/plugins.html#check-pryv-core" in [link["href"] for link in page["links"]], page["links"]


def assert_perfdata(page, labels):
    """The perfdata table has a row for each label (its cells: a pie chart's, the label, value, max...)."""
    shown = [cell for row in page["perfdata"] for cell in row if cell in labels]
    assert sorted(shown) == sorted(labels), page["perfdata"]
