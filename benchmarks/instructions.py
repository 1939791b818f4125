#!/usr/bin/env python3
"""Instructions each plugin run executes beyond its import floor, counted by valgrind's callgrind.

    .venv/bin/python benchmarks/instructions.py [--runs 3] [--python OTHER-VENV/bin/python] [--steps]

Wall times move with whatever else the machine does; instruction counts do not. This is the figure to
compare two versions of the plugins with (a change of 1 M instructions is about 0.3 ms here), on any
machine, busy or not. It starts the sandbox and the system-store trust of benchmarks/bench.py, then runs
under callgrind, with PYTHONHASHSEED=0: the bare floors (the imports, then os._exit), with and without
argparse, and each of the sandbox's plugin command lines over HTTPS. Only the plugin's own process is
counted: the sandbox's work, and the time the plugin waits for it, are not. So the ratio here is a lower
bound of bench.py's wall-time ratio, whose target (1.10x) is not checked here. Each run takes some 50
times longer than without valgrind (a few seconds); the plugins get --timeout 120 for it. Needs valgrind
(apt-get install valgrind) and openssl. With --steps, it shows instead where the instructions of a
check_pryv_core run go: the floor, then check_pryv's modules, the options, the TLS context and the rest
of the run added one at a time (started with python -c, without the console script's few lines).
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (beside this file: the sandbox process, the trust store, the floors)

COLLECTED = re.compile(r"Collected : (\d+)")


def instructions(argv, env, out_dir):
    """Instructions of one run of `argv` under callgrind, and the run's first stdout line."""
    done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=%s" % os.path.join(out_dir, "out"),
                           *argv], env=env, capture_output=True, text=True, timeout=600, cwd="/")
    found = COLLECTED.search(done.stderr)
    if not found:
        raise RuntimeError("callgrind counted nothing for %s: %s" % (argv[0], done.stderr.strip()[-300:]))
    return int(found.group(1)), done.returncode, done.stdout.split("\n", 1)[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=sys.executable,
                        help="the virtualenv's python, whose bin/ holds the plugins (default: this one, %(default)s)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each command; the median is shown (default: 3)")
    parser.add_argument("--json", metavar="FILE", help="also write every count to FILE")
    parser.add_argument("--steps", action="store_true",
                        help="instead, where a check_pryv_core run's own instructions go: the floor, then one step "
                             "of the run added at a time (one run each)")
    args = parser.parse_args(argv)
    if not shutil.which("valgrind"):
        print("instructions: valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    python = os.path.abspath(args.python)
    bindir = os.path.dirname(python)
    env = {k: v for k, v in os.environ.items() if k != "PRYV_ACCESS_TOKEN"}
    package_dir = subprocess.run([python, "-c", "import check_pryv; print(check_pryv.__path__[0])"], check=True,
                                 capture_output=True, text=True, env=env, cwd="/").stdout.strip()
    subprocess.run([python, "-m", "compileall", "-q", package_dir], check=True, env=env)  # as pip install does
    state_dir = tempfile.mkdtemp(prefix="check-pryv-instructions-")
    sandbox = bench.SandboxProcess(python, state_dir)
    try:
        env = dict(bench.system_store(env, state_dir, sandbox.info["ca_file"]), PYTHONHASHSEED="0")
        floors = {}
        for kind, code in (("http", bench.HTTP_FLOOR), ("dns", bench.DNS_FLOOR)):
            label = "bare floor %s: %s, then os._exit(0)" % (kind.upper(), code)
            floors[kind] = (label, bench.bare_floor(python, code))
        for kind, code in bench.STRICT_FLOORS.items():
            floors[kind + "-strict"] = ("bare floor %s without argparse" % kind.upper(), bench.bare_floor(python, code))
        commands = [(label, "dns" if line[0] == "check_pryv_dns" else "http",
                     [os.path.join(bindir, line[0]), *bench.without_ca_cert(line[1:]), "--timeout", "120"])
                    for label, line in sandbox.info["command_lines"]]
        if args.steps:
            core = next(command for _, _, command in commands if os.path.basename(command[0]) == "check_pryv_core")
            return steps(python, core, env, state_dir)
        floor_counts, counts, rows = {}, {}, []
        for key, (label, command) in floors.items():
            floor_counts[key] = counts[label] = statistics.median(instructions(command, env, state_dir)[0]
                                                                  for _ in range(args.runs))
            rows.append([label, "%.1f" % (floor_counts[key] / 1e6), "", "", ""])
        failed = False
        for label, kind, command in commands:
            runs = [instructions(command, env, state_dir) for _ in range(args.runs)]
            bad = [line for _, code, line in runs if code != 0]
            median = statistics.median(count for count, _, _ in runs)
            counts[label] = median
            rows.append(["%s (%s)" % (os.path.basename(command[0]), label), "%.1f" % (median / 1e6),
                         "%+.1f" % ((median - floor_counts[kind]) / 1e6), "%.3f" % (median / floor_counts[kind]),
                         "%.3f" % (median / floor_counts[kind + "-strict"])])
            if bad:
                failed = True
                print("instructions: %s did not end OK: %s" % (label, bad[0]), file=sys.stderr)
    finally:
        sandbox.stop()
        shutil.rmtree(state_dir, ignore_errors=True)
    print("Instructions (callgrind, median of %d runs), the plugins over HTTPS with the system's store" % args.runs)
    print()
    print(bench.table(rows, ["what", "M instructions", "own work M", "to bare floor", "to floor without argparse"]))
    print("own work: the instructions beyond the bare floor (the same imports, argparse among them, then os._exit).")
    if args.json:
        with open(args.json, "w") as stream:
            json.dump(counts, stream, indent=1)
    return 1 if failed else 0


# The steps of a check_pryv_core run, each program the one before it plus one step, all ending with os._exit.
STEPS = [
    ("bare floor", ""),
    ("+ check_pryv's modules", "from check_pryv import check_core, options, start\n"),
    ("+ building the options (argparse)", "parser = check_core.make_parser()\n"),
    ("+ parsing them", "parser.parse_args(sys.argv[1:])\n"),
    ("+ the TLS context (OpenSSL's first)", "options.tls_context(None, False)\n"),
    ("the whole run", None),
]


def steps(python, command, env, out_dir):
    """Print the instructions of the floor and of each step added to it, up to the whole run of `command`."""
    floor = "import os, sys; sys.argv[1:] = %r\n%s\n" % (command[1:], bench.HTTP_FLOOR)
    rows, program, previous = [], floor, None
    for label, code in STEPS:
        if code is None:  # the run itself, as the installed command starts it
            program = floor + "from check_pryv import start\nstart.core()\n"
        else:
            program += code
        count, exit_code, line = instructions([python, "-c", program + "os._exit(0)\n"], env, out_dir)
        if exit_code != 0:
            print("instructions: %s did not end OK (exit %d): %s" % (label, exit_code, line), file=sys.stderr)
            return 1
        rows.append([label, "%.1f" % (count / 1e6), "" if previous is None else "%+.1f" % ((count - previous) / 1e6)])
        previous = count
    print("Where a check_pryv_core run's instructions go (callgrind, one run each): %s" % " ".join(command[1:]))
    print()
    print(bench.table(rows, ["what", "M instructions", "step M"]))
    print("the whole run's step: the request (TLS handshake included), nagiosplugin and the output.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
