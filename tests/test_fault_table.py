"""The fault bench's table: a failing scenario is a failing row, rows print as Markdown or JSON."""

from __future__ import annotations

import json

from bench.fault_table import FaultRow, Workspace, print_rows, run_faults
from bench.faults import FAULTS


def passing(_workspace: Workspace) -> list[FaultRow]:
    return [FaultRow("works", "it works", "it worked", True)]


def broken(_workspace: Workspace) -> list[FaultRow]:
    raise RuntimeError("scenario broke")


def not_here(_workspace: Workspace) -> list[FaultRow]:
    return [FaultRow("needs root", "x", "not root", None)]


def names_a_path(workspace: Workspace) -> list[FaultRow]:
    return [FaultRow("path", "x", f"failed at {workspace.path('index', 'CURRENT')}", True)]


def test_a_broken_scenario_becomes_a_failing_row_and_the_rest_still_run(tmp_path):
    rows = run_faults([broken, passing, not_here], Workspace(tmp_path))
    assert [r.verdict for r in rows] == ["FAIL", "pass", "skipped"]
    assert "scenario broke" in rows[0].observed
    assert [r.fault for r in run_faults([broken, passing], Workspace(tmp_path), "pass")] == [
        "works"
    ]


def test_temporary_paths_are_shortened_in_the_table(tmp_path):
    (row,) = run_faults([names_a_path], Workspace(tmp_path))
    assert row.observed == "failed at <tmp>/index/CURRENT"


def test_rows_print_as_a_table_and_as_json(tmp_path, capsys):
    rows = run_faults([passing, not_here], Workspace(tmp_path))
    print_rows(rows, as_json=False)
    table = capsys.readouterr().out
    assert "| fault" in table and "it worked" in table and "1 pass, 0 fail, 1 skipped" in table
    print_rows(rows, as_json=True)
    payload = json.loads(capsys.readouterr().out)
    assert payload[0] == {
        "fault": "works",
        "expected": "it works",
        "observed": "it worked",
        "passed": True,
        "verdict": "pass",
    }


def test_the_one_list_holds_the_index_and_the_bot_faults():
    names = [fault.__name__ for fault in FAULTS]
    assert names == [
        "kill_during_build",
        "full_disk",
        "hostile_corpus",
        "hostile_structure",
        "inconsistent_generation",
        "bot_side",
    ]
