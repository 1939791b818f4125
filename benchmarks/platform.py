#!/usr/bin/env python3
"""check_pryv_platform's cost: every default check of one platform in one run, against the separate plugin runs.

    .venv/bin/python benchmarks/platform.py [--runs 20] [--instructions]

Starts the sandbox (in DNS mode, every hosting available: all eleven default checks apply and are OK) with the
system-store trust of benchmarks/bench.py, then runs, round-robin, check_pryv_platform with no --checks (dns,
register, hostings, service-info, auth-request, core, write, series, attachment, notifications, certificate) and
the separate runs that ask the same questions: check_pryv_dns, check_pryv_register, its --hostings,
--service-info and --auth-request, check_pryv_core with all its parts (core and parts) and check_pryv_register
--certificate-days (certificate). It prints the median CPU time (user + system, from wait4) and wall time of
each, and how the platform run compares with two plugin runs (register and core, the issue's target: less) and
with all seven. With --instructions, it also counts each command's instructions with
callgrind (one run each; valgrind needed): a figure that does not move with the machine's load.
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (beside this file: the sandbox process, the trust store, run_once, table)
import instructions  # noqa: E402


def commands(bindir, info):
    """(label, argv) of the platform run and of the separate runs asking the same questions."""
    lines = dict(info["command_lines"])
    register, core = lines["register, DNS mode"], lines["core, DNS mode"]
    platform = dict(info["platform_command_lines"])["platform, DNS mode"]
    platform = platform[:platform.index("--checks")]  # every default check
    separate = [("dns", lines["dns"]), ("register", register), ("hostings", register + ["--hostings"]),
                ("service-info", register + ["--service-info"]), ("auth-request", register + ["--auth-request"]),
                ("core and parts", core + ["--write", "--series", "--attachment", "--notifications"]),
                ("certificate", register + ["--certificate-days", "14,7"])]
    return [(label, [os.path.join(bindir, argv[0]), *bench.without_ca_cert(argv[1:])])
            for label, argv in [("check_pryv_platform (11 checks)", platform)] + separate]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=sys.executable,
                        help="the virtualenv's python, whose bin/ holds the plugins (default: this one)")
    parser.add_argument("--runs", type=int, default=20, help="runs of each command (default: %(default)s)")
    parser.add_argument("--instructions", action="store_true", help="also count instructions with callgrind")
    args = parser.parse_args(argv)
    python = os.path.abspath(args.python)
    state_dir = tempfile.mkdtemp(prefix="check-pryv-platform-bench-")
    sandbox = bench.SandboxProcess(python, state_dir)
    try:
        sandbox.faults(hostings="all-available")
        env = bench.system_store({k: v for k, v in os.environ.items() if k != "PRYV_ACCESS_TOKEN"}, state_dir,
                                 sandbox.info["ca_file"])
        cases = commands(os.path.dirname(python), sandbox.info)
        runs = {label: [] for label, _ in cases}
        for _ in range(args.runs):
            for label, command in cases:
                run = bench.run_once(command, env)
                if run.code not in (0, 1):
                    raise SystemExit("platform: %s ended %d: %s" % (label, run.code, run.stdout[:300]))
                runs[label].append(run)
        counts = {}
        if args.instructions:
            for label, command in cases:
                counts[label] = instructions.instructions(command + ["--timeout", "120"], env, state_dir)[0]
    finally:
        sandbox.stop()
        shutil.rmtree(state_dir, ignore_errors=True)
    cpu = {label: statistics.median(run.cpu for run in done) * 1000 for label, done in runs.items()}
    wall = {label: statistics.median(run.wall for run in done) * 1000 for label, done in runs.items()}
    rows = [[label, "%.1f" % cpu[label], "%.1f" % wall[label]] + (["%.1f" % (counts[label] / 1e6)] if counts else [])
            for label, _ in cases]
    platform = cases[0][0]
    two, seven = cpu["register"] + cpu["core and parts"], sum(cpu[label] for label, _ in cases[1:])
    print("check_pryv_platform against separate runs (median of %d runs each, the sandbox in DNS mode)" % args.runs)
    print()
    print(bench.table(rows, ["command", "CPU ms", "wall ms"] + (["M instructions"] if counts else [])))
    print()
    print("platform run: %.1f ms of CPU; two plugin runs (register, core with its parts): %.1f ms (%.2fx); the seven: "
          "%.1f ms (%.2fx)" % (cpu[platform], two, cpu[platform] / two, seven, cpu[platform] / seven))
    if counts:
        two_count = counts["register"] + counts["core and parts"]
        print("instructions: platform %.1f M, two plugin runs %.1f M (%.2fx)" % (
            counts[platform] / 1e6, two_count / 1e6, counts[platform] / two_count))
    return 0 if cpu[platform] < two else 1


if __name__ == "__main__":
    sys.exit(main())
