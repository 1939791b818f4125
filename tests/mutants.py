"""Operator-relevant mutants: one-line bugs a hurried change could bring, each applied alone, its tests run.

Run it from the clone, with the virtualenv of README.rst's "Running the tests" (the mutants are applied to the
files of the clone, which the editable install runs, and always put back, even on Ctrl-C)::

    .venv/bin/python tests/mutants.py            # every mutant, then the score
    .venv/bin/python tests/mutants.py raw-token  # those whose name contains one of the words given
    .venv/bin/python tests/mutants.py --list

A mutant is killed when its tests fail (exit 1), survives when they pass; a mutant whose text is no longer in
its file is reported as stale (the code moved: update the mutant). Before the mutants, the tests run once on
the unchanged code, which must pass. docs/testing.rst gives the score measured and how long it takes: this
is not part of the test suite (it runs the same tests some fifty times).
"""
import collections
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

Mutant = collections.namedtuple("Mutant", "name path old new tests")

HARDENING, SETUP, CORES, FAULTS = "tests/test_hardening.py", "tests/test_setup.py", "tests/test_cores.py", \
    "tests/test_faults.py"

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
]


def run_tests(tests):
    """True when the tests pass."""
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests],
                          cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if done.returncode not in (0, 1):
        raise SystemExit("pytest could not run %s (exit %d)" % (" ".join(tests), done.returncode))
    return done.returncode == 0


def apply(mutant):
    """The file's original text, after writing the mutant into it; None when the mutant's text is not there once."""
    path = os.path.join(REPO, mutant.path)
    with open(path, encoding="utf-8") as source:
        original = source.read()
    if original.count(mutant.old) != 1:
        return None
    with open(path, "w", encoding="utf-8") as source:
        source.write(original.replace(mutant.old, mutant.new))
    return original


def restore(mutant, original):
    with open(os.path.join(REPO, mutant.path), "w", encoding="utf-8") as source:
        source.write(original)


def main(words):
    if words == ["--list"]:
        for mutant in MUTANTS:
            print("%-45s %s" % (mutant.name, mutant.path))
        return 0
    chosen = [m for m in MUTANTS if not words or any(word in m.name for word in words)]
    started = time.monotonic()
    tests = list(dict.fromkeys(test for mutant in chosen for test in mutant.tests))
    if not run_tests(tests):
        print("the tests fail on the unchanged code: fix that first")
        return 2
    survived, stale = [], []
    for mutant in chosen:
        original = apply(mutant)
        if original is None:
            stale.append(mutant.name)
            print("%-45s STALE (its text is not in %s once)" % (mutant.name, mutant.path))
            continue
        try:
            killed = not run_tests(mutant.tests)
        finally:
            restore(mutant, original)
        print("%-45s %s" % (mutant.name, "killed" if killed else "SURVIVED"), flush=True)
        if not killed:
            survived.append(mutant.name)
    tried = len(chosen) - len(stale)
    print("%d of %d mutants killed (%.0f%%), %d stale, in %.0f s" % (
        tried - len(survived), tried, 100.0 * (tried - len(survived)) / max(tried, 1), len(stale),
        time.monotonic() - started))
    return 1 if survived or stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
