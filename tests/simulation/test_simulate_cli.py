"""scripts/simulate.py: failing seeds come with a replay command; the last line is JSON."""

from __future__ import annotations

import json
import shlex

import pytest

from scripts import simulate


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], dict]:
    code = simulate.main(args)
    lines = capsys.readouterr().out.splitlines()
    return code, lines, json.loads(lines[-1])


def test_clean_runs_report_json_with_the_required_keys(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, summary = _run(["--validators", "4", "--byzantine", "1", "--seeds", "0:6",
                                 "--faults", "all"], capsys)
    assert code == 0 and len(lines) == 1
    assert {"runs", "safety_violations", "liveness_failures", "heights_finalized"} <= set(summary)
    assert summary["runs"] == 6 and summary["safety_violations"] == 0
    assert summary["liveness_failures"] == 0 and summary["heights_finalized"] >= 18


def test_failing_seeds_print_a_command_that_replays_them(
        capsys: pytest.CaptureFixture[str]) -> None:
    # n = 3 with one silent validator: quorum(3) = 3 is out of reach, so every seed fails
    code, lines, summary = _run(["--validators", "3", "--byzantine", "1", "--seeds", "5:7",
                                 "--faults", "silence,drop"], capsys)
    assert code == 1
    assert summary["liveness_failures"] == 2 and summary["failing_seeds"] == [5, 6]
    replays = [line.split("replay: ", 1)[1] for line in lines if "replay: " in line]
    assert len(replays) == 2
    argv = shlex.split(replays[1])
    assert argv[:2] == ["python", "scripts/simulate.py"]
    code, _, again = _run(argv[2:], capsys)
    assert code == 1 and again["runs"] == 1 and again["failing_seeds"] == [6]


@pytest.mark.parametrize("args", [["--faults", "meteor"], ["--validators", "0"],
                                  ["--validators", "2", "--byzantine", "3"]])
def test_usage_errors_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert simulate.main(args) == 2
    assert "simulate:" in capsys.readouterr().err
