"""Operator-relevant mutants: one-line bugs a hurried change could bring, each applied alone, its tests run.

Run it from the clone, with the virtualenv of README.rst's "Running the tests" (the mutants are applied to the
files of the clone, which the editable install runs, and always put back, even on Ctrl-C)::

    .venv/bin/python tests/mutants.py            # every mutant, then the score
    .venv/bin/python tests/mutants.py raw-token  # those whose name contains one of the words given
    .venv/bin/python tests/mutants.py --list
    .venv/bin/python tests/mutants.py --count   # without -x: how many tests kill each mutant (slower)

A mutant is killed when one of its tests fails with it and passes again without it (a timing test that failed
because the machine was busy is no kill: the mutant is tried a second time, then reported as undecided); it
survives when its tests pass. A mutant whose text is no longer in its file is reported as stale (the code moved:
update the mutant). docs/testing.rst gives the score measured and how long it takes: this
is not part of the test suite (it runs the same tests some fifty times).
"""
import collections
import os
import re
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

Mutant = collections.namedtuple("Mutant", "name path old new tests")

HARDENING, SETUP, CORES, FAULTS = "tests/test_hardening.py", "tests/test_setup.py", "tests/test_cores.py", \
    "tests/test_faults.py"
CORE, REGISTER, DNS, WRITE = "tests/test_core.py", "tests/test_register.py", "tests/test_dns.py", "tests/test_write.py"

MUTANTS = [
    # --- the five blind spots of the first audit
    Mutant("core-sends-bearer", "check_pryv/check_core.py", 'headers={"Authorization": token}',
           'headers={"Authorization": "Bearer " + token}',
           [HARDENING + "::test_core_sends_the_raw_token_that_pryv_1x_requires"]),
    Mutant("setup-sends-bearer", "check_pryv/provision.py", 'headers["Authorization"] = token',
           'headers["Authorization"] = "Bearer " + token',
           [HARDENING + "::test_setup_sends_the_raw_token_that_pryv_1x_requires"]),
    Mutant("watchdog-at-twice-t", "check_pryv/plugin.py", "deadline.started + args.timeout + 0.1",
           "deadline.started + 2 * args.timeout + 0.1",
           [FAULTS + "::test_watchdog_ends_a_plugin_whose_alarm_never_comes_within_its_timeout"]),
    Mutant("prompted-password-not-scrubbed", "check_pryv/provision.py",
           "        password, prompted = read_password(args, parser)\n        secret.add(password)\n",
           "        password, prompted = read_password(args, parser)\n",
           [HARDENING + "::test_setup_password_typed_at_the_prompt_echoed_by_the_platform_never_shows"]),
    Mutant("token-file-read-through-link", "check_pryv/provision.py", "safefile.read(path, follow=False)",
           "safefile.read(path, follow=True)",
           [CORES + "::test_all_hostings_never_reads_nor_writes_a_token_file_through_a_link"]),
    Mutant("reused-access-of-any-type", "check_pryv/provision.py",
           '\n             and a.get("type") == "shared" and a.get("token")]', '\n             and a.get("token")]',
           [SETUP + "::test_setup_app_access_with_the_same_name_is_never_handed_out"]),
    # --- the setup gap: a reused access must cover what the checks need
    Mutant("reused-access-permissions-unchecked", "check_pryv/provision.py",
           "    if problem:  # reused", "    if False:  # reused",
           [SETUP + "::test_setup_existing_access_that_cannot_write_is_refused_and_nothing_changes",
            "tests/test_real_server.py::test_setup_refuses_an_existing_access_that_cannot_write"]),
    Mutant("reused-access-stream-existence-unchecked", "check_pryv/provision.py",
           'if stream_levels.get("*") != "manage" and not stream_exists(', 'if False and not stream_exists(',
           [SETUP + "::test_setup_existing_access_on_the_check_stream_is_reused_once_the_stream_exists"]),
    Mutant("reused-access-expiry-unchecked", "check_pryv/provision.py",
           'if found[0].get("expires") is not None:', 'if False:',
           [SETUP + "::test_setup_existing_access_that_expires_is_refused"]),
    # --- the states an operator is paged on (or, worse, not paged on)
    Mutant("core-ok-without-events-list", "check_pryv/check_core.py",
           'if not isinstance(body, dict) or not isinstance(body.get("events"), list):',
           'if not isinstance(body, dict):', [CORE, FAULTS + "::test_http_fault[json-without-expected-keys-core]"]),
    Mutant("core-any-status-judged-as-200", "check_pryv/probe.py", "if answer.status == 200 and not answer.capped:",
           "if not answer.capped:", [CORE]),
    Mutant("core-capped-body-judged", "check_pryv/probe.py", "if answer.status == 200 and not answer.capped:",
           "if answer.status == 200:", [FAULTS + "::test_100_MB_body_is_not_read"]),
    Mutant("core-transport-error-not-critical", "check_pryv/probe.py",
           "return self.result_cls(nagiosplugin.Critical, str(answer), metric)",
           "return self.result_cls(nagiosplugin.Warn, str(answer), metric)", [CORE, REGISTER]),
    Mutant("core-rejected-token-words-lost", "check_pryv/check_core.py",
           '"invalid-access-token": "access token rejected",', "", [CORE]),
    Mutant("api-version-prefix-anywhere", "check_pryv/check_core.py", "if not version.startswith(prefix):",
           "if prefix not in version:", ["tests/test_beyond.py", "tests/test_real_server.py"]),
    Mutant("api-version-1.1-matches-1.10", "check_pryv/check_core.py",
           "return not rest or not (prefix[-1].isdigit() and rest[0].isdigit())", "return True",
           [CORE, "tests/test_names.py", "tests/test_beyond.py"]),
    Mutant("api-version-missing-is-ok", "check_pryv/check_core.py",
           "if metric.value and version_matches(metric.value, self.prefix):",
           "if not metric.value or version_matches(metric.value, self.prefix):", [CORE, "tests/test_beyond.py"]),
    Mutant("skew-judged-one-way-only", "check_pryv/plugin.py",
           'nagiosplugin.Range("~:" if limit is None else "%s:%s" % (plain(-limit), plain(limit)))',
           'nagiosplugin.Range("~:" if limit is None else "~:%s" % plain(limit))', [CORE, "tests/test_beyond.py"]),
    Mutant("register-unknown-user-ok", "check_pryv/check_register.py",
           "return nagiosplugin.Warn, \"register answers but no longer knows",
           "return nagiosplugin.Ok, \"register answers but no longer knows", [REGISTER]),
    Mutant("hostings-none-available-only-warning", "check_pryv/register_info.py",
           "state = nagiosplugin.Critical if len(down) == len(judged) else nagiosplugin.Warn",
           "state = nagiosplugin.Warn", [REGISTER]),
    Mutant("dns-nxdomain-ok", "check_pryv/check_dns.py", 'if lookup.rcode == "NXDOMAIN":',
           'if lookup.rcode == "NXDOMAIN" and False:', [DNS]),
    Mutant("dns-empty-answer-ok", "check_pryv/check_dns.py", "if not lookup.addresses:",
           "if not lookup.addresses and lookup.chain:", [DNS]),
    Mutant("dns-unexpected-address-ok", "check_pryv/check_dns.py", "        if unexpected:\n",
           "        if unexpected and False:\n", [DNS]),
    Mutant("time-threshold-ignored", "check_pryv/plugin.py", "        if result.state != nagiosplugin.Ok:\n"
           "            limit = self.critical", "        if False:\n            limit = self.critical",
           [CORE, REGISTER]),
    Mutant("write-read-back-not-compared", "check_pryv/write.py",
           'if event.get("content") != value or event.get("trashed") is True:',
           'if event.get("trashed") is True:', [WRITE, "tests/test_write_real_server.py"]),
    Mutant("write-trashed-read-back-accepted", "check_pryv/write.py",
           'if event.get("content") != value or event.get("trashed") is True:',
           'if event.get("content") != value:', [WRITE]),
    Mutant("write-refusal-ok", "check_pryv/write.py", 'STATES = {"written": nagiosplugin.Ok,',
           'STATES = {"refused": nagiosplugin.Ok, "written": nagiosplugin.Ok,', [WRITE]),
    Mutant("write-recreated-ok", "check_pryv/write.py", '"first": nagiosplugin.Ok, "skipped"',
           '"first": nagiosplugin.Ok, "recreated": nagiosplugin.Ok, "skipped"', [WRITE]),
    # --- secrets and files
    Mutant("scrub-first-occurrence-only", "check_pryv/secret.py", "text = text.replace(value, HIDDEN)",
           "text = text.replace(value, HIDDEN, 1)", [HARDENING, "tests/test_hypothesis.py"]),
    Mutant("scrub-json-escaped-form-forgotten", "check_pryv/secret.py",
           "_known.update((form, json.dumps(form)[1:-1], json.dumps(form, ensure_ascii=False)[1:-1],",
           "_known.update((form, json.dumps(form, ensure_ascii=False)[1:-1],", [HARDENING]),
    Mutant("scrub-before-cut-skipped", "check_pryv/client.py", 'text = " ".join(secret.scrub(str(text)).split())',
           'text = " ".join(str(text).split())', [HARDENING]),
    Mutant("status-line-pipe-kept", "check_pryv/plugin.py", '.replace("|", "/")', "", [HARDENING]),
    Mutant("token-file-fifo-read", "check_pryv/safefile.py", "        if not stat.S_ISREG(mode):\n            raise",
           "        if False:\n            raise", [HARDENING]),
    Mutant("token-file-size-uncapped", "check_pryv/safefile.py", "    if len(data) > SIZE_CAP:\n",
           "    if False:\n", [HARDENING]),
    Mutant("token-file-world-readable", "check_pryv/safefile.py", "owner=None, mode=0o600):",
           "owner=None, mode=0o644):", [SETUP]),
    Mutant("token-file-replaced-without-force", "check_pryv/provision.py", "if old and old != token and not force:",
           "if False:", [SETUP]),
    Mutant("short-token-accepted", "check_pryv/secret.py", "if len(token) < MIN_TOKEN_LENGTH:",
           "if len(token) < 1:", [HARDENING]),
    Mutant("password-on-command-line-accepted", "check_pryv/provision.py",
           "secrets.add_argument(\"--password\", nargs=\"?\", action=RefusePassword,",
           "secrets.add_argument(\"--password\", nargs=\"?\",", [SETUP]),
    # --- setup's steps
    Mutant("setup-new-account-password-not-confirmed", "check_pryv/provision.py",
           "        if prompted:  # a typo", "        if False:  # a typo", [SETUP]),
    Mutant("setup-token-not-verified", "check_pryv/provision.py", "    verify_token(platform, args, token)\n",
           "", [SETUP, HARDENING]),
    Mutant("setup-hosting-unavailable-taken", "check_pryv/provision.py",
           "if wanted and not dict(hostings)[wanted]:", "if False:", [SETUP]),
    Mutant("setup-gateway-error-not-unreachable", "check_pryv/provision.py",
           "GATEWAY_ERRORS = (502, 503, 504)", "GATEWAY_ERRORS = ()", [SETUP]),
    # --- the deadline
    Mutant("deadline-without-margin", "check_pryv/deadline.py", "MARGIN = 0.25", "MARGIN = 0",
           [DNS, FAULTS + "::test_dns_fault[silent-server]"]),
    Mutant("timeout-zero-accepted", "check_pryv/options.py", "not 1 <= int(text) <= MAX_TIMEOUT",
           "not 0 <= int(text) <= MAX_TIMEOUT", [FAULTS + "::test_argument_fault", "tests/test_names.py"]),
]


def run_tests(tests, count=False):
    """The node ids of the tests that fail (with -x, the first one only)."""
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rf", "-p", "no:cacheprovider",
                           *([] if count else ["-x"]), *tests], cwd=REPO, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True)
    if done.returncode not in (0, 1):
        raise SystemExit("pytest could not run %s (exit %d)" % (" ".join(tests), done.returncode))
    return [line[len("FAILED "):].split(" - ")[0] for line in done.stdout.splitlines() if line.startswith("FAILED ")]


def judge(mutant, count):
    """The tests that kill the mutant: those that fail with it and pass without it (a timing test that failed
    because the machine was busy is no kill: the mutant is tried again, twice at most)."""
    for _ in range(2):
        original = apply(mutant)
        try:
            failed = run_tests(mutant.tests, count)
        finally:
            restore(mutant, original)
        if not failed:
            return []
        flaky = run_tests(failed, count=True)
        if not flaky:
            return failed
    return None


def apply(mutant):
    """The file's original text, after writing the mutant into it."""
    path = os.path.join(REPO, mutant.path)
    with open(path, encoding="utf-8") as source:
        original = source.read()
    with open(path, "w", encoding="utf-8") as source:
        source.write(original.replace(mutant.old, mutant.new))
    return original


def restore(mutant, original):
    with open(os.path.join(REPO, mutant.path), "w", encoding="utf-8") as source:
        source.write(original)


def main(words):
    count = "--count" in words
    words = [word for word in words if word != "--count"]
    if words == ["--list"]:
        for mutant in MUTANTS:
            print("%-45s %s" % (mutant.name, mutant.path))
        return 0
    chosen = [m for m in MUTANTS if not words or any(word in m.name for word in words)]
    started = time.monotonic()
    survived, stale, flaky = [], [], []
    for mutant in chosen:
        with open(os.path.join(REPO, mutant.path), encoding="utf-8") as source:
            if source.read().count(mutant.old) != 1:
                stale.append(mutant.name)
                print("%-45s STALE (its text is not in %s once)" % (mutant.name, mutant.path))
                continue
        killers = judge(mutant, count)
        if killers is None:
            flaky.append(mutant.name)
            print("%-45s UNDECIDED (its tests also fail without it: a busy machine?)" % mutant.name, flush=True)
            continue
        print("%-45s %s" % (mutant.name, ("killed" + (" by %d test(s)" % len(killers) if count else "")) if killers
                                         else "SURVIVED"), flush=True)
        if not killers:
            survived.append(mutant.name)
        elif count:
            print("\n".join("    " + test for test in killers))
    tried = len(chosen) - len(stale) - len(flaky)
    print("%d of %d mutants killed (%.0f%%), %d stale, %d undecided, in %.0f s" % (
        tried - len(survived), tried, 100.0 * (tried - len(survived)) / max(tried, 1), len(stale), len(flaky),
        time.monotonic() - started))
    return 1 if survived or stale or flaky else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
