"""The release, as a user, a packager or a lawyer meets it.

- The version of check_pryv/__init__.py, debian/changelog's newest entry and NEWS.rst's newest release agree.
- LICENSE holds the BSD-3-Clause text and the copyright holder that debian/copyright names; the package
  metadata points at it.
- `python -m build` makes an sdist that holds the docs, the Icinga 2, Nagios and NRPE files and the tests, and a
  wheel with the package and its license.
- The wheel, installed in a fresh virtualenv, gives commands that say their version, and the sandbox's demo runs
  from it.
- pipx, as README.rst's Install section runs it (Debian's pipx, PIPX_BIN_DIR a directory the monitoring user
  can read), gives plugins that the monitoring user runs against the sandbox.

The artifacts are the virtualenv run's business: the run on the installed .deb (CHECK_PRYV_PLUGIN_DIR) checks
the versions and the license only.
"""
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import pytest

import check_pryv
from conftest import PLUGIN_DIR, cannot, dnsless_args, require_binary

REPO = Path(__file__).resolve().parent.parent
COMMANDS = ("check_pryv_dns", "check_pryv_register", "check_pryv_core", "check_pryv_platform", "check_pryv_setup",
            "check_pryv_sandbox")
SHIPPED_DIRS = ("docs", "icinga2", "nagios", "nrpe", "tests")


def read(name):
    return (REPO / name).read_text(encoding="utf-8")


def test_version_agrees_with_debian_changelog_and_news():
    changelog = re.match(r"check-pryv \(([^)]+)\)", read("debian/changelog")).group(1)
    news = [title for title, underline in zip(read("NEWS.rst").splitlines(), read("NEWS.rst").splitlines()[1:])
            if underline and set(underline) == {"="} and len(underline) == len(title) and title[:1].isdigit()]
    assert (changelog.split("-")[0], news[0]) == (check_pryv.__version__, check_pryv.__version__)


def test_license_is_the_one_debian_copyright_names():
    copyright_file = read("debian/copyright")
    holder = re.search(r"^Files: \*\nCopyright: (\d{4}) (.+)$", copyright_file, re.M).groups()
    assert read("LICENSE").splitlines()[:3] == ["BSD 3-Clause License", "", "Copyright (c) %s, %s" % holder]
    assert re.search(r"^License: BSD-3-Clause$", copyright_file, re.M)
    # the same clauses, word for word (debian/copyright indents them and marks blank lines with " .")
    debian_text = copyright_file.split("\nLicense: BSD-3-Clause\n", 2)[2]
    words = " ".join(re.sub(r"^ \.$", "", debian_text, flags=re.M).split())
    assert words == " ".join(read("LICENSE").split("\n", 3)[3].split())
    assert re.search(r"^license_files = LICENSE$", read("setup.cfg"), re.M)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    """(sdist, wheel) as `python -m build` makes them; with the virtualenv's setuptools (--no-isolation), so that
    the build needs no package index."""
    if PLUGIN_DIR:
        pytest.skip("the artifacts are checked by the virtualenv's run")
    out, clone = tmp_path_factory.mktemp("dist"), tmp_path_factory.mktemp("clean") / "check_pryv"
    # from a clean copy: setuptools would add to the sdist every file an old check_pryv.egg-info/SOURCES.txt lists
    shutil.copytree(REPO, clone, ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__",
                                                                "node_modules", ".pytest_cache", ".hypothesis"))
    built = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(clone)],
                           capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    version = check_pryv.__version__
    return out / ("check_pryv-%s.tar.gz" % version), out / ("check_pryv-%s-py3-none-any.whl" % version)


def shipped_files():
    """The files of the directories an sdist must carry, as in the clone (no caches, no npm install)."""
    return {str(path.relative_to(REPO)) for folder in SHIPPED_DIRS for path in (REPO / folder).rglob("*")
            if path.is_file() and not {"__pycache__", "node_modules", ".hypothesis"} & set(path.parts)}


def test_sdist_holds_docs_configuration_and_tests(artifacts):
    with tarfile.open(artifacts[0]) as sdist:
        root = "check_pryv-%s/" % check_pryv.__version__
        names = {name[len(root):] for name in sdist.getnames()}
    assert sorted(shipped_files() - names) == []
    assert {"LICENSE", "NEWS.rst", "README.rst", "setup.cfg", "pyproject.toml", "check_pryv/check_core.py"} <= names


def test_wheel_holds_the_package_and_its_license(artifacts):
    with zipfile.ZipFile(artifacts[1]) as wheel:
        names = set(wheel.namelist())
        entry_points = wheel.read("check_pryv-%s.dist-info/entry_points.txt" % check_pryv.__version__).decode()
    package = {str(path.relative_to(REPO)) for path in (REPO / "check_pryv").rglob("*.py")}
    assert sorted(package - names) == []
    assert [name for name in names if name.endswith("/LICENSE") and ".dist-info/" in name], sorted(names)
    assert [name for name in names if name.startswith("tests/")] == []
    assert sorted(re.findall(r"^(check_pryv_\w+) = ", entry_points, re.M)) == sorted(COMMANDS)


def say_their_version(bin_dir, commands):
    for command in commands:
        said = subprocess.run([str(bin_dir / command), "--version"], capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)
        assert said.stdout == "%s %s\n" % (command, check_pryv.__version__), (command, said.stdout, said.stderr)


def test_wheel_in_a_fresh_virtualenv_runs_the_sandbox_demo(artifacts, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    installed = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "%s[sandbox]" % artifacts[1]],
                               capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert installed.returncode == 0, installed.stderr[-2000:]
    say_their_version(venv / "bin", COMMANDS)
    demo = subprocess.run([str(venv / "bin" / "check_pryv_sandbox"), "--demo"], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL, cwd=str(tmp_path))  # not the clone's check_pryv
    assert demo.returncode == 0, demo.stdout + demo.stderr
    for line in ("PRYV_DNS OK - ", "PRYV_REGISTER OK - ", "PRYV_CORE OK - "):
        assert line in demo.stdout, demo.stdout


@pytest.fixture
def shared_dir():
    """A directory every user can enter, as /opt and /usr/local are: the monitoring user reads what pipx put there."""
    folder = Path(tempfile.mkdtemp(prefix="check-pryv-pipx-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def test_pipx_install_as_the_readme_says_gives_plugins_the_monitoring_user_runs(sandbox, shared_dir):
    if PLUGIN_DIR:
        pytest.skip("pipx is checked by the virtualenv's run")
    pipx = require_binary("pipx")
    readme = read("README.rst").split("\npipx\n----\n", 1)[1]
    command = re.search(r"^    (PIPX_HOME=\S+ PIPX_BIN_DIR=\S+ pipx install \.)$", readme, re.M).group(1)
    assert command == "PIPX_HOME=/opt/pipx PIPX_BIN_DIR=/usr/local/bin pipx install ."
    env = dict(os.environ, PIPX_HOME=str(shared_dir / "pipx"), PIPX_BIN_DIR=str(shared_dir / "bin"))
    env.pop("VIRTUAL_ENV", None)
    made = subprocess.run([pipx, "install", "."], cwd=str(REPO), env=env, capture_output=True, text=True,
                          timeout=600, stdin=subprocess.DEVNULL)
    assert made.returncode == 0, made.stdout[-2000:] + made.stderr[-2000:]
    say_their_version(shared_dir / "bin", COMMANDS[:4])
    ca_file = shared_dir / "ca.pem"  # the sandbox's own is in a directory only root enters
    shutil.copy(sandbox.ca_file, ca_file)
    ca_file.chmod(0o644)
    args = [str(shared_dir / "bin" / "check_pryv_core"), *dnsless_args(sandbox)]
    args[args.index("--ca-cert") + 1] = str(ca_file)
    as_nagios = ["runuser", "-u", "nagios", "--"] if os.geteuid() == 0 else []
    if as_nagios and subprocess.run(["id", "nagios"], capture_output=True).returncode != 0:
        cannot("no nagios user (Debian's monitoring-plugins or nagios4 make it)")
    core = subprocess.run([*as_nagios, *args], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                          env=dict(os.environ, PRYV_ACCESS_TOKEN=sandbox.token))  # runuser keeps the environment
    assert core.returncode == 0, core.stdout + core.stderr
    assert core.stdout.startswith("PRYV_CORE OK - events answered 200 in "), core.stdout
