"""risk/controls.py holds the controls; risk/pretrade.py still offers every name callers import."""

from __future__ import annotations

import subprocess
import sys

import pytest

from trading_core.risk import controls, pretrade

CALLER_NAMES = (
    "OrderRequest",
    "RiskDecision",
    "Violation",
    "ExposureView",
    "CheckContext",
    "check_order",
    "to_marketable_limit",
    "RiskLimits",
    "CONTROLS",
)


@pytest.mark.parametrize("first", ["trading_core.risk.controls", "trading_core.risk.pretrade"])
def test_either_module_can_be_imported_first(first: str) -> None:
    # A fresh interpreter: an import cycle between the two would only show in one order.
    code = f"import {first}; from trading_core.risk.pretrade import check_order, CONTROLS"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("name", CALLER_NAMES)
def test_pretrade_still_offers_each_name_callers_import(name: str) -> None:
    assert hasattr(pretrade, name)


def test_the_controls_and_their_violations_are_the_same_objects_in_both_modules() -> None:
    assert pretrade.Violation is controls.Violation
    assert pretrade.CONTROLS is controls.CONTROLS


def test_the_controls_run_in_their_reporting_order() -> None:
    assert [control.__name__ for control in controls.CONTROLS] == [
        "_instrument_rules",
        "_order_type_and_tif",
        "_collar",
        "_equity_known",
        "_order_notional",
        "_position_limit",
        "_buying_power",
        "_no_short_selling",
        "_open_orders",
        "_gross_and_net_exposure",
        "_firm_exposure",
        "_submit_rate",
        "_window_notional",
        "_duplicate",
        "_daily_count",
        "_repeated_execution",
    ]


def test_the_published_schema_of_a_violation_did_not_change() -> None:
    schema = pretrade.RiskDecision.model_json_schema()["$defs"]["Violation"]
    assert schema == {
        "additionalProperties": False,
        "properties": {
            "code": {"title": "Code", "type": "string"},
            "message": {"title": "Message", "type": "string"},
        },
        "required": ["code", "message"],
        "title": "Violation",
        "type": "object",
    }
