"""The deployment files in deploy/ work as they are: the systemd unit is sandboxed and passes
`systemd-analyze verify`; the Prometheus alert rules pass `promtool check rules` and their
unit tests (`promtool test rules`: each alert fires when it should, for the right node, and
not for a healthy one); the example config passes `promtool check config`; the Grafana
dashboard parses, its queries are valid PromQL, and every metric the rules and the dashboard
name is one a running node exports at /metrics."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from faircoop_node.config import NodeConfig
from tests.explorer.explorer_chain import node_process_app
from tests.explorer.tools import ROOT, need_promtool

DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "systemd" / "faircoop-node.service"
RULES = DEPLOY / "prometheus" / "faircoop-alerts.yml"
RULE_TESTS = DEPLOY / "prometheus" / "faircoop-alerts.test.yml"
PROMETHEUS_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
DASHBOARD = DEPLOY / "grafana" / "faircoop-dashboard.json"
METRIC = re.compile(r"\bfaircoop_[a-z0-9_]+\b")
NOT_OURS = {"faircoop"}  # the job name, not a metric


def unit_settings(text: str) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def test_the_unit_runs_the_node_as_its_own_user_in_a_sandbox() -> None:
    settings = unit_settings(UNIT.read_text())
    for key, value in [("User", "faircoop"), ("ProtectSystem", "strict"),
                       ("NoNewPrivileges", "true"), ("ProtectHome", "true"),
                       ("PrivateTmp", "true"), ("ReadWritePaths", "/var/lib/faircoop"),
                       ("KillSignal", "SIGTERM"), ("CapabilityBoundingSet", "")]:
        assert settings.get(key) == [value], key
    config = settings["ExecStart"][0].split("--config ")[1]
    assert config.startswith("/var/lib/faircoop/")  # the node directory is writable
    sysusers = (DEPLOY / "systemd" / "faircoop.sysusers.conf").read_text()
    assert re.search(r"^u faircoop - .* /var/lib/faircoop ", sysusers, re.M)


def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not found (not a systemd machine): the unit is checked "
                    "where systemd is")
    # verify checks that ExecStart's program exists: point it at this checkout's node
    program = Path(sys.executable).with_name("faircoop-node")
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace("/opt/faircoop/bin/faircoop-node", str(program)))
    done = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr  # unknown keys, bad values: only warnings


def test_systemd_analyze_sees_a_broken_unit(tmp_path: Path) -> None:
    """The check above can fail: a misspelt sandboxing key is reported."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not found")
    program = Path(sys.executable).with_name("faircoop-node")
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace("/opt/faircoop/bin/faircoop-node", str(program))
                    .replace("ProtectSystem=", "ProtectSystm="))
    done = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True,
                          timeout=60)
    assert "ProtectSystm" in done.stderr


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([need_promtool(), *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def test_promtool_checks_the_rules_and_the_config() -> None:
    rules = promtool("check", "rules", RULES.name, cwd=RULES.parent)
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert "SUCCESS: 11 rules found" in rules.stdout
    config = promtool("check", "config", PROMETHEUS_CONFIG.name, cwd=RULES.parent)
    assert config.returncode == 0, config.stdout + config.stderr


def test_each_alert_fires_for_the_unwell_node_only() -> None:
    done = promtool("test", "rules", RULE_TESTS.name, cwd=RULES.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    alerts = set(re.findall(r"alert: (\w+)", RULES.read_text()))
    tested = set(re.findall(r"alertname: (\w+)", RULE_TESTS.read_text()))
    assert alerts == tested  # every alert has a test


def dashboard_queries() -> list[str]:
    doc = json.loads(DASHBOARD.read_text())
    assert doc["uid"] and doc["panels"]
    queries = [t["expr"] for p in doc["panels"] for t in p["targets"]]
    assert all(queries) and len({p["id"] for p in doc["panels"]}) == len(doc["panels"])
    return queries


def test_the_dashboards_queries_are_valid_promql(tmp_path: Path) -> None:
    queries = dashboard_queries()
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query{i}", "expr": q.replace("$instance", ".*")}
        for i, q in enumerate(queries)]}]}
    (tmp_path / "dashboard.rules.json").write_text(json.dumps(rules))
    done = promtool("check", "rules", "dashboard.rules.json", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


async def test_every_metric_the_rules_and_the_dashboard_name_is_exported(
        tmp_path: Path) -> None:
    named = (set(METRIC.findall(RULES.read_text()))
             | set(METRIC.findall(" ".join(dashboard_queries())))) - NOT_OURS
    assert len(named) >= 15
    config = NodeConfig.for_dir(tmp_path)
    config.data_dir.mkdir(parents=True)
    async with node_process_app(config, 2) as served:
        text = await (await served.client.get("/metrics")).text()
        node = served.node
    exported = set(re.findall(r"^# TYPE (\w+) ", text, re.M))
    assert named - exported == set(), "named but not exported"
    assert f'faircoop_node_info{{pubkey="{node.pubkey.hex()}",role="validator"}} 1' in text
