"""The `what to do:` table (check_pryv/advice.py) and docs/faults.rst stay in step.

Every fault row of faults.rst that is not OK has its entry (the argument faults excepted: their one line names
the option and ends with `(see --help)`); every entry covers rows that exist, and its pattern matches a first
line that faults.rst shows for them; faults.rst's "What to do" table is the advice table, entry for entry.
Each failure says which entry or row to add, for whoever adds a fault to faults.rst.
"""
import re
import textwrap
from pathlib import Path

from check_pryv import advice

FAULTS = Path(__file__).resolve().parent.parent / "docs" / "faults.rst"
WITHOUT_ADVICE = ("Arguments and environment", "What to do")  # sections whose rows need no entry
WRAP = 120


def words(text):
    return " ".join(text.split())


def sections():
    """{section title: [rows]}, each row the list of its cells (whitespace collapsed), header row left out."""
    text = FAULTS.read_text()
    found = {}
    for match in re.finditer(r"^([^\n]+)\n-{3,}\n(.*?)(?=^[^\n]+\n-{3,}\n|\Z)", text, re.M | re.S):
        tables = []  # a section may hold several tables, each with its header row
        for line in match.group(2).splitlines():
            if line.startswith(".. list-table::"):
                tables.append([])
            elif line.startswith("   * - ") and tables:
                tables[-1].append([line[7:]])
            elif line.startswith("     - ") and tables and tables[-1]:
                tables[-1][-1].append(line[7:])
            elif line.startswith("       ") and tables and tables[-1]:
                tables[-1][-1][-1] += " " + line.strip()
        found[match.group(1)] = [[words(cell) for cell in row] for rows in tables for row in rows[1:]]
    return found


def fault_rows():
    """{fault (first cell): (section, first-line cell)} of the rows whose state is not only OK, but for a usage
    error's (its one line ends with ``(see --help)``, as the argument faults' do)."""
    return {row[0]: (title, row[2]) for title, rows in sections().items() if title not in WITHOUT_ADVICE
            for row in rows if row[1] != "OK" and not row[2].endswith("(see --help)``")}


def rst_table():
    """faults.rst's "What to do" table, as the advice table makes it."""
    lines = [".. list-table::", "   :header-rows: 1", "   :widths: 40 60", "", "   * - Faults", "     - What to do"]
    for rows, _, text in advice.ENTRIES:
        for first, cell in (("   * - ", "; ".join(rows)), ("     - ", text)):
            lines += textwrap.wrap(cell, WRAP, initial_indent=first, subsequent_indent="       ",
                                   break_long_words=False, break_on_hyphens=False)
    return "\n".join(lines) + "\n"


def test_every_fault_row_has_its_advice():
    covered = {row for rows, _, _ in advice.ENTRIES for row in rows}
    missing = ["%s: %r" % (section, row) for row, (section, _) in fault_rows().items() if row not in covered]
    assert not missing, ("docs/faults.rst rows without an entry in check_pryv/advice.py's ENTRIES (add one: "
                         "(rows, pattern of the first line, what to do), then the 'What to do' table):\n"
                         + "\n".join(missing))


def test_every_entry_covers_rows_that_exist_and_matches_their_first_line():
    rows = fault_rows()
    for entry_rows, pattern, text in advice.ENTRIES:
        unknown = [row for row in entry_rows if row not in rows]
        assert not unknown, "advice entry %r names rows that docs/faults.rst does not have: %s" % (text, unknown)
        shown = [literal for row in entry_rows for literal in re.findall(r"``(.+?)``", rows[row][1])]
        assert any(re.search(pattern, literal) for literal in shown), (
            "advice entry %r: its pattern %r matches none of the first lines docs/faults.rst shows for %s: %s"
            % (text, pattern, entry_rows, shown))


def test_faults_rst_shows_the_advice_table():
    text = FAULTS.read_text()
    assert rst_table() in text, ("docs/faults.rst's 'What to do' table differs from check_pryv/advice.py's "
                                 "ENTRIES; it should read:\n\n" + rst_table())


def test_advice_is_chosen_by_the_problem_words():
    assert advice.lines(["access forbidden (403 forbidden): Access has expired", "response time 1.505s over 1s",
                         "access token rejected (403 invalid-access-token): Cannot find access from token"]) == [
        "what to do: " + advice.advice("access forbidden"), "what to do: " + advice.advice("response time 2s"),
        "what to do: " + advice.advice("access token rejected")]
    assert advice.advice("access forbidden (403 forbidden): Access has expired").startswith(
        "the access has expired or lost its permission")
    assert advice.advice("something nobody foresaw") == advice.FALLBACK
    assert len(set(advice.lines(["register answered 502 HTML page 'x'", "core answered 503 HTML page 'y'"]))) == 1


def test_a_part_gets_its_own_advice_before_the_generic_answers():
    # the parts' words also hold a generic answer's ("answered 500", "refused"): their entries must come first
    assert advice.advice("register database answered 500 unexpected-error: Unexpected error: connect "
                         "ECONNREFUSED 127.0.0.1:5432").startswith("the platform's database does not answer")
    assert advice.advice("series: writing the point refused: 502 unexpected-error: HFS upstream "
                         "unreachable").startswith("the HFS worker fails")
    assert advice.advice("notifications: namespace /u/u refused: Cannot find access from token.").startswith(
        "the core's socket.io side refuses")
