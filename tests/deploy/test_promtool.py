"""deploy/prometheus: promtool accepts the config and the rules, and the rules' unit tests pass."""

from __future__ import annotations

import subprocess

import pytest
from prometheus_harness import DEPLOY, RULE_FILES

PROMETHEUS = DEPLOY / "prometheus"
RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))


def promtool(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *map(str, args)], capture_output=True, text=True, timeout=120)


def test_config_is_valid_and_loads_every_rule_file() -> None:
    result = promtool("check", "config", PROMETHEUS / "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(RULE_FILES)} rule files found" in result.stdout


def test_rules_are_valid() -> None:
    assert RULE_FILES
    result = promtool("check", "rules", *RULE_FILES)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("tests", RULE_TESTS, ids=lambda path: path.name)
def test_alert_rule_unit_tests_pass(tests) -> None:
    result = promtool("test", "rules", tests)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_unit_test() -> None:
    alerts = {
        line.split(":", 1)[1].strip()
        for path in RULE_FILES
        for line in path.read_text().splitlines()
        if line.strip().startswith("- alert:")
    }
    tested = "\n".join(path.read_text() for path in RULE_TESTS)
    assert alerts and {a for a in alerts if f"alertname: {a}" not in tested} == set()
