"""The README and the programs must not disagree: options, and the test command CI runs."""
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


def test_readme_is_valid_restructuredtext():
    import docutils.core
    import docutils.utils

    problems = []
    docutils.core.publish_doctree(read("README.rst"), settings_overrides={
        "report_level": docutils.utils.Reporter.WARNING_LEVEL, "halt_level": 5,
        "warning_stream": type("Sink", (), {"write": lambda self, text: problems.append(text)})()})
    assert problems == []
