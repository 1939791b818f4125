"""Beyond the guide, over real sockets: certificate expiry (register and core), the register's hostings and
service info, and the core's API version. Every state of every new option, both modes, exact first lines and
perfdata, and the usage errors (UNKNOWN).
"""
import re

import pytest

from check_pryv import certificate
from check_pryv.sandbox import Sandbox
from conftest import dns_mode_args, dnsless_args, run_plugin
from faultservers import HTTPFault, answer, json_answer, pryv_ok

TIME = r"\d\.\d{3}s"
REG_TIME = r"time=\d+\.?\d*s;;;0;10$"
CORE_PERF = r"clock_skew=-?\d+\.?\d*s time=\d+\.?\d*s;;;0;10$"
HOST = r"[a-z0-9.-]+"  # the certificate's host: reg.DOMAIN, USER.DOMAIN or HOSTNAME
DATE = r"\d{4}-\d\d-\d\d"
MODES = pytest.mark.parametrize("mode", [dns_mode_args, dnsless_args], ids=["dns-mode", "dns-less"])


def first_line(result):
    return result.stdout.splitlines()[0] if result.stdout else ""


def register(sb, *extra, mode=dns_mode_args):
    return run_plugin("check_pryv_register", *mode(sb), *extra)


def core(sb, *extra, mode=dns_mode_args):
    return run_plugin("check_pryv_core", *mode(sb), "--token-file", sb.token_file, *extra)


def insecure(args):
    """The same connection options, the certificate not verified."""
    index = args.index("--ca-cert")
    return args[:index] + args[index + 2:] + ["--insecure"]


def assert_line(result, code, pattern):
    assert result.returncode == code, result.stdout + result.stderr
    assert re.match(pattern + "$", first_line(result)), first_line(result)
    assert result.stderr == ""


def expiry_date(sb):
    """The day the sandbox's certificate ends, as the plugins write it."""
    der = certificate.fetch("127.0.0.1", sb.http_port, "reg." + sb.domain, 5)
    return certificate.parse(der).not_after.strftime("%Y-%m-%d")


# ---- --certificate-days


@pytest.fixture(scope="module")
def short_lived(tmp_path_factory):
    """A platform whose certificate ends in 10 days."""
    with Sandbox(state_dir=str(tmp_path_factory.mktemp("ten-days")), cert_days=10) as sb:
        yield sb


@pytest.fixture(scope="module")
def expired(tmp_path_factory):
    """A platform whose certificate ended 3 days ago."""
    with Sandbox(state_dir=str(tmp_path_factory.mktemp("expired")), cert_days=-3) as sb:
        yield sb


@MODES
def test_certificate_far_from_expiry_is_ok_with_perfdata(sandbox, mode):
    result = register(sandbox, "--certificate-days", "30,14", mode=mode)
    days = r"(\d+(\.\d)?)"
    assert_line(result, 0, r"PRYV_REGISTER OK - certificate of %s valid for %s days \(until %s\); register knows "
                           r"healthmetrics01 \(200 in %s\); database answers \| certificate_days=\1;30:;14: %s"
                % (HOST, days, DATE, TIME, REG_TIME))
    result = core(sandbox, "--certificate-days", "30,14", mode=mode)
    assert_line(result, 0, r"PRYV_CORE OK - certificate of %s valid for %s days \(until %s\); events answered 200 in "
                           r"%s \(API 1\.9\.3-open\) \| certificate_days=\1;30:;14: %s"
                % (HOST, days, DATE, TIME, CORE_PERF))


@MODES
def test_certificate_below_warning_days_is_warning(short_lived, mode):
    date = expiry_date(short_lived)
    result = register(short_lived, "--certificate-days", "30,7", mode=mode)
    assert_line(result, 1, r"PRYV_REGISTER WARNING - certificate of %s valid for 9\.9 days \(until %s\); "
                           r"register knows healthmetrics01 \(200 in %s\) \| certificate_days=9\.9;30:;7: %s"
                % (HOST, date, TIME, REG_TIME))
    result = core(short_lived, "--certificate-days", "30,7", mode=mode)
    assert_line(result, 1, r"PRYV_CORE WARNING - certificate of %s valid for 9\.9 days \(until %s\); "
                           r"events answered 200 in %s \(API 1\.9\.3-open\) \| certificate_days=9\.9;30:;7: %s"
                % (HOST, date, TIME, CORE_PERF))


@MODES
def test_certificate_below_critical_days_is_critical(short_lived, mode):
    date = expiry_date(short_lived)
    result = register(short_lived, "--certificate-days", "30,14", mode=mode)
    assert_line(result, 2, r"PRYV_REGISTER CRITICAL - certificate of %s valid for 9\.9 days \(until %s\); "
                           r"register knows healthmetrics01 \(200 in %s\) \| certificate_days=9\.9;30:;14: %s"
                % (HOST, date, TIME, REG_TIME))
    result = core(short_lived, "--certificate-days", "30,14", mode=mode)
    assert_line(result, 2, r"PRYV_CORE CRITICAL - certificate of %s valid for 9\.9 days \(until %s\); "
                           r"events answered 200 in %s \(API 1\.9\.3-open\) \| certificate_days=9\.9;30:;14: %s"
                % (HOST, date, TIME, CORE_PERF))


def test_certificate_warn_only_is_critical_once_expired_only(short_lived):
    result = register(short_lived, "--certificate-days", "5")
    assert_line(result, 0, r"PRYV_REGISTER OK - certificate of %s valid for 9\.9 days \(until %s\); register knows "
                           r"healthmetrics01 \(200 in %s\); database answers \| certificate_days=9\.9;5:;0: %s"
                % (HOST, expiry_date(short_lived), TIME, REG_TIME))
    result = register(short_lived, "--certificate-days", "10.5")
    assert result.returncode == 1 and " valid for 9.9 days (until " in first_line(result), result.stdout


@MODES
def test_certificate_with_insecure_is_still_judged(short_lived, mode):
    result = run_plugin("check_pryv_register", *insecure(mode(short_lived)), "--certificate-days", "30,14")
    assert result.returncode == 2, result.stdout
    assert re.match("PRYV_REGISTER CRITICAL - certificate of %s valid for 9.9 days " % HOST, first_line(result))
    assert "| certificate_days=9.9;30:;14: time=" in first_line(result)
    result = run_plugin("check_pryv_core", *insecure(mode(short_lived)), "--token-file", short_lived.token_file,
                        "--certificate-days", "7")
    assert result.returncode == 0, result.stdout
    assert re.search(r"\| certificate_days=9\.9;7:;0: clock_skew=", first_line(result)), result.stdout


@MODES
def test_expired_certificate_with_insecure_is_critical(expired, mode):
    date = expiry_date(expired)
    result = run_plugin("check_pryv_register", *insecure(mode(expired)), "--certificate-days", "30,14")
    assert_line(result, 2, r"PRYV_REGISTER CRITICAL - certificate of %s expired 3 days ago \(%s\); "
                           r"register knows healthmetrics01 \(200 in %s\) \| certificate_days=-3;30:;14: %s"
                % (HOST, date, TIME, REG_TIME))
    result = run_plugin("check_pryv_core", *insecure(mode(expired)), "--token-file", expired.token_file,
                        "--certificate-days", "30")
    assert_line(result, 2, r"PRYV_CORE CRITICAL - certificate of %s expired 3 days ago \(%s\); "
                           r"events answered 200 in %s \(API 1\.9\.3-open\) \| certificate_days=-3;30:;0: %s"
                % (HOST, date, TIME, CORE_PERF))


@MODES
def test_expired_certificate_verified_stays_the_tls_critical(expired, mode):
    for plugin, extra in (("check_pryv_register", []), ("check_pryv_core", ["--token-file", expired.token_file])):
        result = run_plugin(plugin, *mode(expired), *extra, "--certificate-days", "30,14")
        host = "reg.pryv.test" if plugin.endswith("register") and mode is dns_mode_args else \
            "healthmetrics01.pryv.test" if mode is dns_mode_args else "localhost"
        assert result.returncode == 2, result.stdout
        assert re.match(r"PRYV_(REGISTER|CORE) CRITICAL - TLS handshake with %s:%d (\(127\.0\.0\.1\) )?failed: "
                        r"certificate verify failed: certificate has expired \| time=" % (
                            re.escape(host), expired.http_port), first_line(result)), result.stdout
        assert "certificate_days" not in result.stdout


def test_certificate_long_output_names_subject_and_expiry(short_lived):
    result = register(short_lived, "--certificate-days", "30,7", "-v")
    lines = result.stdout.splitlines()
    assert any(line.startswith("certificate subject: O=trustme") for line in lines), result.stdout
    assert any(line.startswith("certificate issuer: O=check_pryv sandbox") for line in lines), result.stdout
    assert any(re.match(r"certificate expires: %sT\d\d:\d\d:\d\dZ \(in 9 days\)$" % expiry_date(short_lived), line)
               for line in lines), result.stdout
    assert "certificate names: pryv.test, *.pryv.test, localhost, 127.0.0.1" in lines
    assert lines[-1].startswith("| certificate_days=9.9;30:;7: time=")
    assert not any(line.startswith("certificate") for line in register(short_lived, "-v").stdout.splitlines())


def test_certificate_of_the_request_itself_is_judged(short_lived, sandbox):
    """Two servers at once: each plugin judges the certificate of the server it called, no other."""
    near = register(short_lived, "--certificate-days", "30,14")
    far = register(sandbox, "--certificate-days", "30,14")
    assert "certificate_days=9.9;" in first_line(near) and near.returncode == 2
    assert "certificate_days=9.9;" not in first_line(far) and far.returncode == 0


# ---- --hostings


@pytest.mark.parametrize("fault, extra, code, text, perfdata", [
    ("ok", [], 1, "WARNING - 1 of 2 hostings available; not available: hosting2",
     "hostings_available=1;2:;1:;0;2 hostings_total=2;;;0"),
    ("all-available", [], 0, "OK - 2 of 2 hostings available", "hostings_available=2;2:;1:;0;2 hostings_total=2;;;0"),
    ("none-available", [], 2, "CRITICAL - 0 of 2 hostings available; not available: hosting1, hosting2",
     "hostings_available=0;2:;1:;0;2 hostings_total=2;;;0"),
    ("ok", ["--hosting", "hosting1"], 0, "OK - 1 of 1 hosting available",
     "hostings_available=1;1:;1:;0;1 hostings_total=1;;;0"),
    ("ok", ["--hosting", "hosting2"], 2, "CRITICAL - 0 of 1 hosting available; not available: hosting2",
     "hostings_available=0;1:;1:;0;1 hostings_total=1;;;0"),
    ("ok", ["--hosting", "hosting2", "--hosting", "hosting1", "--hosting", "hosting1"], 1,
     "WARNING - 1 of 2 hostings available; not available: hosting2",
     "hostings_available=1;2:;1:;0;2 hostings_total=2;;;0"),
    ("all-available", ["--hosting", "hosting9"], 2,
     "CRITICAL - register does not list hosting hosting9; it lists: hosting1, hosting2",
     "hostings_available=0;1:;1:;0;1 hostings_total=1;;;0"),
    ("all-available", ["--hosting", "hosting1", "--hosting", "h8", "--hosting", "h9"], 2,
     "CRITICAL - register does not list hostings h8, h9; it lists: hosting1, hosting2",
     "hostings_available=1;3:;1:;0;3 hostings_total=3;;;0"),
], ids=["default", "all-available", "none-available", "one-selected", "one-selected-down", "two-selected",
        "unlisted", "two-unlisted"])
def test_hostings_dns_mode(sandbox, fault, extra, code, text, perfdata):
    sandbox.set_faults(hostings=fault)
    result = register(sandbox, "--hostings", *extra)
    assert_line(result, code, re.escape("PRYV_REGISTER %s | %s " % (text, perfdata)) + REG_TIME)


@pytest.mark.parametrize("fault, extra, code, text, perfdata", [
    ("ok", [], 0, "OK - 1 of 1 hosting available", "hostings_available=1;1:;1:;0;1 hostings_total=1;;;0"),
    ("none-available", [], 2, "CRITICAL - 0 of 1 hosting available; not available: default",
     "hostings_available=0;1:;1:;0;1 hostings_total=1;;;0"),
    ("ok", ["--hosting", "hosting2"], 2, "CRITICAL - register does not list hosting hosting2; it lists: default",
     "hostings_available=0;1:;1:;0;1 hostings_total=1;;;0"),
], ids=["default", "none-available", "unlisted"])
def test_hostings_dnsless(sandbox, fault, extra, code, text, perfdata):
    """v2 without a hostings setting lists one hosting, `default`, in region and zone `default`."""
    sandbox.set_faults(hostings=fault)
    result = register(sandbox, "--hostings", *extra, mode=dnsless_args)
    assert_line(result, code, re.escape("PRYV_REGISTER %s | %s " % (text, perfdata)) + REG_TIME)


def test_hostings_long_output_lists_each_hosting(sandbox):
    result = register(sandbox, "--hostings", "--hosting", "hosting1", "-v")
    lines = result.stdout.splitlines()
    assert "url: https://reg.pryv.test:%d/hostings" % sandbox.http_port in lines
    assert ("hosting hosting1: available (region europe, zone switzerland, core https://co1.pryv.test:%d/)"
            % sandbox.http_port) in lines
    assert "hosting hosting2: not available (region europe, zone switzerland) not judged" in lines


@MODES
def test_hostings_with_a_failing_register_is_critical_in_its_words(sandbox, mode):
    sandbox.set_faults(register="failing")
    result = register(sandbox, "--hostings", mode=mode)
    error = "500 INTERNAL_ERROR: Internal error" if mode is dns_mode_args else "500 unexpected-error: Unexpected error"
    assert_line(result, 2, re.escape("PRYV_REGISTER CRITICAL - register answered %s | " % error) + REG_TIME)


def test_hostings_with_certificate_days(short_lived):
    result = register(short_lived, "--hostings", "--hosting", "hosting1", "--certificate-days", "30,7")
    assert_line(result, 1, "PRYV_REGISTER WARNING - certificate of %s valid for 9.9 days " % HOST + re.escape(
        "(until %s); 1 of 1 hosting available | certificate_days=9.9;30:;7: hostings_available=1;1:;1:;0;1 "
        "hostings_total=1;;;0 " % expiry_date(short_lived)) + REG_TIME)


def hostings_body(hostings):
    return {"regions": {"r": {"name": "R", "zones": {"z": {"name": "Z", "hostings": {
        name: {"url": "https://sw.pryv.test/", "name": name, "description": "", "available": up,
               "availableCore": "https://co1.pryv.test/" if up else ""} for name, up in hostings.items()}}}}}}


ODD_HOSTINGS = {
    "many-names-shortened": (hostings_body({"h%d" % n: n == 1 for n in range(1, 10)}), 1,
                             "WARNING - 1 of 9 hostings available; not available: h2, h3, h4, h5, h6 and 3 more"),
    "available-not-true": (hostings_body({"h1": "yes", "h2": 1, "h3": True}), 1,
                           "WARNING - 1 of 3 hostings available; not available: h1, h2"),
    "no-hosting": ({"regions": {}}, 2, "CRITICAL - register lists no hosting"),
    "regions-a-list": ({"regions": []}, 2, "CRITICAL - register answered 200 without a hostings list: "
                                           "'{\"regions\": []}'"),
    "zone-without-hostings": ({"regions": {"r": {"zones": {"z": {"name": "Z"}}}}}, 2,
                              "CRITICAL - register answered 200 without a hostings list: "),
    "html": ("<html><title>Welcome to nginx!</title></html>", 2,
             "CRITICAL - register answered 200 without a hostings list: HTML page 'Welcome to nginx!'"),
}


@pytest.mark.parametrize("case", list(ODD_HOSTINGS))
def test_hostings_odd_bodies(case):
    body, code, text = ODD_HOSTINGS[case]
    served = json_answer(200, body) if isinstance(body, dict) else answer_html(body)
    with HTTPFault(answer(served)) as server:
        result = run_plugin("check_pryv_register", "-D", "pryv.test", "-I", "127.0.0.1", "-p", str(server.port),
                            "--scheme", "http", "--hostings")
    assert result.returncode == code, result.stdout
    assert first_line(result).startswith("PRYV_REGISTER " + text), first_line(result)
    assert result.stderr == ""


def answer_html(page):
    from faultservers import http_response

    return http_response(200, page, [("Content-Type", "text/html")])


# ---- --service-info


@MODES
def test_service_info_matches(sandbox, mode):
    result = register(sandbox, "--service-info", mode=mode)
    platform = "pryv.test" if mode is dns_mode_args else "localhost"
    assert_line(result, 0, re.escape("PRYV_REGISTER OK - service info of 'Pryv.io sandbox' (version 1.9.3-open) "
                                     "matches %s | " % platform) + REG_TIME)


@MODES
def test_service_info_of_another_platform_is_critical(sandbox, mode):
    sandbox.set_faults(service_info="mismatch")
    result = register(sandbox, "--service-info", mode=mode)
    port = sandbox.http_port
    if mode is dns_mode_args:
        text = ("does not match pryv.test: api https://{username}.old-pryv.test:%d/, register "
                "https://reg.old-pryv.test:%d/" % (port, port))
    else:
        text = ("does not match localhost: api https://old-localhost:%d/{username}/, register "
                "https://old-localhost:%d/reg/" % (port, port))
    assert_line(result, 2, re.escape("PRYV_REGISTER CRITICAL - service info of 'Pryv.io sandbox' (version "
                                     "1.9.3-open) %s | " % text) + REG_TIME)


@MODES
def test_service_info_lacking_fields_is_critical(sandbox, mode):
    sandbox.set_faults(service_info="incomplete", api_version="1.10.2")
    result = register(sandbox, "--service-info", mode=mode)
    assert_line(result, 2, re.escape("PRYV_REGISTER CRITICAL - service info of 'Pryv.io sandbox' (version 1.10.2) "
                                     "lacks api, access | ") + REG_TIME)


def test_service_info_long_output_shows_found_and_expected(sandbox):
    sandbox.set_faults(service_info="mismatch")
    lines = register(sandbox, "--service-info", "-v").stdout.splitlines()
    port = sandbox.http_port
    for line in ("url: https://reg.pryv.test:%d/service/info" % port,
                 "name: Pryv.io sandbox",
                 "api: https://{username}.old-pryv.test:%d/" % port,
                 "api expected: https://{username}.pryv.test:%d/" % port,
                 "register: https://reg.old-pryv.test:%d/" % port,
                 "register expected: https://reg.pryv.test:%d/" % port,
                 "access: https://reg.old-pryv.test:%d/access/" % port,
                 "version: 1.9.3-open"):
        assert line in lines, "\n".join(lines)


@MODES
def test_service_info_with_a_failing_register_is_critical(sandbox, mode):
    sandbox.set_faults(register="failing")
    result = register(sandbox, "--service-info", mode=mode)
    assert result.returncode == 2 and first_line(result).startswith("PRYV_REGISTER CRITICAL - register answered 500 ")


def service_info(api, register_url, **more):
    return {"name": "Pryv Lab", "api": api, "register": register_url, "access": "https://access.pryv.test/access",
            "home": "https://sw.pryv.test/", "version": "1.9.0", **more}


# Answers of other platforms to --service-info, checked as `-D pryv.test` (or `-H pryv.test`) on port PORT over http
OTHER_SERVICE_INFOS = {
    "urls-without-the-port": (["-D", "pryv.test"], service_info("http://{username}.pryv.test/", "http://reg.pryv.test"),
                              0, "OK - service info of 'Pryv Lab' (version 1.9.0) matches pryv.test"),
    "urls-with-the-port": (["-D", "pryv.test"], service_info("http://{username}.PRYV.test:{port}",
                                                             "http://reg.pryv.test:{port}/"),
                           0, "OK - service info of 'Pryv Lab' (version 1.9.0) matches pryv.test"),
    "another-port": (["-D", "pryv.test"], service_info("http://{username}.pryv.test:8443/", "http://reg.pryv.test/"),
                     2, "CRITICAL - service info of 'Pryv Lab' (version 1.9.0) does not match pryv.test: "
                        "api http://{username}.pryv.test:8443/"),
    "another-scheme": (["-D", "pryv.test"], service_info("https://{username}.pryv.test/", "https://reg.pryv.test/"),
                       2, "CRITICAL - service info of 'Pryv Lab' (version 1.9.0) does not match pryv.test: "
                          "api https://{username}.pryv.test/, register https://reg.pryv.test/"),
    "dns-less-urls-for-dns-mode": (["-D", "pryv.test"], service_info("http://pryv.test/{username}/",
                                                                     "http://pryv.test/reg/"),
                                   2, "CRITICAL - service info of 'Pryv Lab' (version 1.9.0) does not match "
                                      "pryv.test: api http://pryv.test/{username}/, register http://pryv.test/reg/"),
    "dns-less": (["-H", "pryv.test"], service_info("http://pryv.test/{username}", "http://pryv.test/reg"),
                 0, "OK - service info of 'Pryv Lab' (version 1.9.0) matches pryv.test"),
    "no-version-no-name": (["-D", "pryv.test"], {"api": "http://{username}.pryv.test/",
                                                 "register": "http://reg.pryv.test/", "access": "x"},
                           2, "CRITICAL - service info of (no name) lacks name"),
    "fields-not-text": (["-D", "pryv.test"], service_info(["http://{username}.pryv.test/"], "", access=None),
                        2, "CRITICAL - service info of 'Pryv Lab' (version 1.9.0) lacks api, register, access"),
    "no-service-info": (["-D", "pryv.test"], {"meta": {"apiVersion": "1.9.0"}}, 2,
                        "CRITICAL - register answered 200 without service info: '{\"meta\": "),
}


@pytest.mark.parametrize("case", list(OTHER_SERVICE_INFOS))
def test_service_info_of_other_platforms(case):
    platform, body, code, text = OTHER_SERVICE_INFOS[case]
    with HTTPFault(answer(lambda request: json_answer(200, fill_port(body, port)))) as server:
        port = server.port
        result = run_plugin("check_pryv_register", *platform, "-I", "127.0.0.1", "-p", str(port), "--scheme", "http",
                            "--service-info")
    assert result.returncode == code, result.stdout
    assert first_line(result).startswith("PRYV_REGISTER " + text), first_line(result)
    assert result.stderr == ""


def fill_port(body, port):
    return {key: value.replace("{port}", str(port)) if isinstance(value, str) else value for key, value in body.items()}


# ---- --expect-api-version


@pytest.mark.parametrize("prefix", ["1", "1.9", "1.9.3", "1.9.3-open", "1.9."])
def test_expected_api_version_is_ok(sandbox, prefix):
    result = core(sandbox, "--expect-api-version", prefix)
    assert_line(result, 0, r"PRYV_CORE OK - events answered 200 in %s \(API 1\.9\.3-open\) \| %s" % (TIME, CORE_PERF))


@MODES
@pytest.mark.parametrize("prefix", ["1.10", "1.9.4", "2", "1.9.3-enterprise", "9.3", "3-open"])  # a prefix, not a part
def test_other_api_version_is_warning(sandbox, mode, prefix):
    result = core(sandbox, "--expect-api-version", prefix, mode=mode)
    assert_line(result, 1, r"PRYV_CORE WARNING - events answered 200 in %s \(API 1\.9\.3-open\); core reports API "
                           r"1\.9\.3-open, expected %s \| %s" % (TIME, re.escape(prefix), CORE_PERF))


def test_api_version_prefix_matches_whole_components(sandbox):
    sandbox.set_faults(api_version="1.10.2")
    assert core(sandbox, "--expect-api-version", "1.10").returncode == 0
    result = core(sandbox, "--expect-api-version", "1.1")
    assert_line(result, 1, r"PRYV_CORE WARNING - events answered 200 in %s \(API 1\.10\.2\); core reports API "
                           r"1\.10\.2, expected 1\.1 \| %s" % (TIME, CORE_PERF))


def test_api_version_keeps_the_events_verdict(sandbox):
    sandbox.set_faults(token="rejected")
    result = core(sandbox, "--expect-api-version", "1.10")
    assert result.returncode == 2, result.stdout
    assert first_line(result).startswith(
        "PRYV_CORE CRITICAL - access token rejected (403 invalid-access-token): Cannot find access from token; "
        "core reports API 1.9.3-open, expected 1.10 | clock_skew=")
    sandbox.set_faults(token="ok", core="down")  # nginx's page tells no version: only the core's state
    result = core(sandbox, "--expect-api-version", "1.10")
    assert result.returncode == 2, result.stdout
    assert re.match(r"PRYV_CORE CRITICAL - core answered 502 HTML page '502 Bad Gateway' \| time=", first_line(result))


def test_api_version_missing_is_warning(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("ckbeyond0token\n")
    no_version = json_answer(200, {"events": [], "meta": {"serverTime": 1.5e9}})
    for served, code, text in ((no_version, 1, "; core reports no API version, expected 1.9 | "),
                               (pryv_ok, 0, " (API 1.9.3-open) | ")):
        with HTTPFault(answer(served)) as server:
            result = run_plugin("check_pryv_core", "-D", "pryv.test", "-I", "127.0.0.1", "-p", str(server.port),
                                "--scheme", "http", "--token-file", str(token_file), "--expect-api-version", "1.9")
        assert result.returncode == code, result.stdout
        assert text in first_line(result), result.stdout


# ---- usage errors


@pytest.mark.parametrize("plugin, args, message", [
    ("register", ["--scheme", "http", "--certificate-days", "30"],
     "--certificate-days needs HTTPS: there is no certificate with --scheme http"),
    ("core", ["--scheme", "http", "--certificate-days", "30,14", "--token", "ckbeyond0secret"],
     "--certificate-days needs HTTPS: there is no certificate with --scheme http"),
    ("register", ["--certificate-days", "14,30"], "argument --certificate-days: invalid days '14,30': WARN (the first) "
                                                  "is below CRIT"),
    ("register", ["--certificate-days", "soon"], "argument --certificate-days: invalid days 'soon': WARN[,CRIT], "
                                                 "numbers of days >= 0"),
    ("core", ["--certificate-days=-1"], "argument --certificate-days: invalid days '-1'"),
    ("core", ["--certificate-days", "30,14,7"], "argument --certificate-days: invalid days '30,14,7'"),
    ("core", ["--certificate-days", "inf"], "argument --certificate-days: invalid days 'inf'"),
    ("register", ["--hostings", "--service-info"], "argument --service-info: not allowed with argument --hostings"),
    ("register", ["--hosting", "hosting1"], "--hosting NAME applies to --hostings only"),
    ("register", ["--service-info", "--hosting", "hosting1"], "--hosting NAME applies to --hostings only"),
    ("register", ["--hostings", "--hosting", "a b"], "argument --hosting: invalid hosting name 'a b'"),
    ("core", ["--expect-api-version", ""], "argument --expect-api-version: invalid version prefix ''"),
    ("core", ["--expect-api-version", "1 9"], "argument --expect-api-version: invalid version prefix '1 9'"),
    ("register", ["--expect-api-version", "1.9"], "unrecognized arguments: --expect-api-version and 1 value"),
    ("core", ["--hostings"], "unrecognized arguments: --hostings"),
])
def test_usage_errors_are_unknown(plugin, args, message):
    token = ["--token", "ckbeyond0secret"] if plugin == "core" and "--token" not in args else []
    result = run_plugin("check_pryv_" + plugin, "-D", "pryv.test", *args, *token)
    assert result.returncode == 3, result.stdout
    assert result.stdout.startswith("PRYV_%s UNKNOWN - %s" % (plugin.upper(), message)), result.stdout
    assert result.stdout.endswith(" (see --help)\n") and len(result.stdout.splitlines()) == 1
    assert "ckbeyond0secret" not in result.stdout and result.stderr == ""


def test_help_names_the_new_options():
    register_help = run_plugin("check_pryv_register", "--help").stdout
    for option in ("--hostings", "--hosting NAME", "--service-info", "--certificate-days WARN[,CRIT]"):
        assert option in register_help
    core_help = run_plugin("check_pryv_core", "--help").stdout
    for option in ("--certificate-days WARN[,CRIT]", "--expect-api-version PREFIX"):
        assert option in core_help
