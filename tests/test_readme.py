"""The README and the programs must not disagree: options, and the test command CI runs; README.rst and docs/ stay
valid reStructuredText, README.rst short."""
import os
import re

import pytest

from conftest import run_plugin

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as stream:
        return stream.read()


@pytest.mark.parametrize("plugin", ["check_pryv_dns", "check_pryv_register", "check_pryv_core"])
def test_readme_documents_every_option_of(plugin):
    options = set(re.findall(r"(--[a-z][a-z-]+)", run_plugin(plugin, "--help").stdout))
    missing = sorted(o for o in options if "``%s" % o not in read("README.rst"))
    assert missing == []


def test_ci_runs_the_readme_test_command():
    readme = read("README.rst")
    command = readme.split("Running the tests", 1)[1].split("::\n\n")[2].splitlines()[0].strip()
    assert command.startswith("python3 -m venv .venv")
    assert command in read(".ci/run").splitlines()


def test_ci_runs_the_readme_package_test_command():
    """The installed .deb's test command, the chapter's third literal block."""
    command = read("README.rst").split("Running the tests", 1)[1].split("::\n\n")[3].splitlines()[0].strip()
    assert command.startswith("CHECK_PRYV_PLUGIN_DIR=/usr/lib/nagios/plugins /usr/bin/python3 -m pytest")
    assert command in read(".ci/run").splitlines()


DOCS = sorted(os.path.join("docs", name) for name in os.listdir(os.path.join(ROOT, "docs")) if name.endswith(".rst"))


@pytest.mark.parametrize("path", ["README.rst", "NEWS.rst"] + DOCS)
def test_readme_is_valid_restructuredtext(path):
    import docutils.core
    import docutils.utils

    problems = []
    docutils.core.publish_doctree(read(path), source_path=path, settings_overrides={
        "report_level": docutils.utils.Reporter.WARNING_LEVEL, "halt_level": 5,
        "warning_stream": type("Sink", (), {"write": lambda self, text: problems.append(text)})()})
    assert problems == []


def test_readme_stays_under_500_lines():
    """An admin reads it top to bottom; developer material goes to docs/."""
    assert len(read("README.rst").splitlines()) < 500


def test_readme_links_to_every_doc():
    assert [path for path in DOCS if "<%s>`_" % path not in read("README.rst")] == []


@pytest.mark.parametrize("path", ["README.rst"] + DOCS)
def test_relative_links_resolve(path):
    """Relative links (`text <docs/x.rst>`_) resolve from the file that holds them, as GitHub resolves them."""
    targets = re.findall(r"<([^<>:\s]+\.rst)(?:#[a-z0-9-]+)?>`_", read(path))
    assert [t for t in targets if not os.path.isfile(os.path.join(ROOT, os.path.dirname(path), t))] == []
