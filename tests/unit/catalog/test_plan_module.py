"""The datamill.platform.plan module: exit/fail behaviour around the pure planner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.datamill.platform.plugins.module_utils import catalog as cat
from ansible_collections.datamill.platform.plugins.modules import plan as plan_module

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def catalog():
    return cat.load_catalog_dir(str(REPO / "roles" / "catalog"))


def run(capsys, **args):
    with patch_module_args(args), pytest.raises(SystemExit) as info:
        plan_module.main()
    return info.value.code, json.loads(capsys.readouterr().out)


def test_plan_ok(catalog, capsys):
    code, result = run(capsys, catalog=catalog, profile="datalake", capacity={"cpu": "8", "memory": "16Gi"})
    assert code == 0 and result["changed"] is False
    assert result["summary"]["fits"] is True
    assert "| wave | component" in result["table"]


def test_plan_refuses_too_big_with_table(catalog, capsys):
    code, result = run(
        capsys,
        catalog=catalog,
        profile="datalake",
        size="standard",
        capacity={"cpu": "1", "memory": "1Gi"},
        enforce=True,
    )
    assert code == 1 and result["failed"] is True
    assert result["msg"].startswith("Refusing to deploy: the plan does not fit the cluster (nothing was changed).")
    assert "TOO BIG" in result["msg"]


def test_plan_refuses_undeployable_unless_skipped(catalog, capsys):
    code, result = run(capsys, catalog=catalog, profile="datawarehouse", enforce=True)
    assert code == 1 and "cannot be deployed yet" in result["msg"] and "spark-operator" in result["msg"]
    code, result = run(capsys, catalog=catalog, profile="datawarehouse", enforce=True, skip_undeployable=True)
    assert code == 0 and "spark-operator" in result["plan"]["skipped"]


def test_plan_reports_inventory_errors(catalog, capsys):
    code, result = run(capsys, catalog=catalog, profile="datalake", components={"kafak": {"enabled": True}})
    assert code == 1
    assert "unknown component 'kafak'" in result["msg"] and "Did you mean 'kafka'" in result["msg"]
    assert result["errors"]


def test_plan_rejects_bad_headroom(catalog, capsys):
    code, result = run(capsys, catalog=catalog, profile="datalake", headroom=0.95)
    assert code == 1 and "headroom" in result["msg"]
