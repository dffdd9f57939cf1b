"""The pure parts of plans, dashboards and audiences: the pace a plan needs, the alerts, how figures read, and
which contacts a campaign may reach and why the others are left out."""

from __future__ import annotations

from datetime import date
from typing import Any

from services.reporting.build_audiences import judge
from services.reporting.export_reports import csv_chunks
from services.reporting.figures import FIGURES, GROUPS
from services.reporting.plan_targets import progress
from services.reporting.watch_dashboard import alerts_of, shown


def test_a_month_plan_half_done_on_the_tenth_needs_the_rest_spread_over_the_days_left() -> None:
    p = progress("m-ann", "deals_closed", "2026-11", 10, 5, date(2026, 11, 10), "/x")
    assert (p.done, p.target, p.remaining) == (5, 10, 5)
    assert p.days_left == 21  # the 10th to the 30th, today included
    assert p.pace == 1  # ceil(5 / 21)
    assert p.share == 0.5
    assert p.expected == 4  # ceil(10 * 10 / 30): an even pace by tonight
    assert not p.behind


def test_a_plan_behind_pace_says_so_and_a_met_one_needs_no_pace() -> None:
    behind = progress("m-ann", "meetings", "2026-W49", 7, 1, date(2026, 12, 3), None)  # Thursday of W49
    assert behind.days_left == 4
    assert behind.pace == 2  # ceil(6 / 4)
    assert behind.behind
    met = progress("m-ann", "meetings", "2026-W49", 3, 4, date(2026, 12, 3), None)
    assert met.pace is None and met.remaining == 0 and met.share == 1.0 and not met.behind


def test_a_plan_whose_period_is_over_has_no_days_left_and_an_uncounted_one_is_not_behind() -> None:
    over = progress("m-ann", "contacts", "2026-11-29", 10, 3, date(2026, 11, 30), None)
    assert (over.days_left, over.pace, over.remaining) == (0, None, 7)
    uncounted = progress("m-ann", "deals_closed", "2026-11", 10, None, date(2026, 11, 30), None)
    assert uncounted.done is None and not uncounted.behind


def test_figures_read_as_people_read_them() -> None:
    assert shown("callback_sla_share", 0.834) == "83 %"
    assert shown("callback_median_s", 42) == "42 s"
    assert shown("callback_median_s", 600) == "10 min"
    assert shown("backlog_oldest_s", 3 * 3600 + 5 * 60) == "3 h 05 min"
    assert shown("backlog_oldest_s", 2 * 86400 + 4 * 3600) == "2 d 4 h"
    assert shown("deals_won_amount", 12500.0) == "12,500"
    assert shown("calls_in", 7) == "7"
    assert shown("callback_median_s", None) == "\u2013"


def row(mid: str, **values: Any) -> dict[str, Any]:
    return {"manager_id": mid, "label": mid, "values": values, "links": {n: f"/r/{mid}/{n}" for n in values}}


def test_alerts_name_overdue_callbacks_a_growing_backlog_and_thin_contact_data_worst_first() -> None:
    rows = [
        row("m-ann", tasks_overdue=0, backlog=6, data_completeness=0.9),
        row("m-bob", tasks_overdue=2, backlog=6, data_completeness=0.4),
        row("m-cid", tasks_overdue=0, backlog=9, data_completeness=None),
    ]
    alerts = alerts_of(rows, {"m-ann": 2, "m-bob": 6, "m-cid": 12}, backlog_min=5, completeness_below=0.6)
    assert [(a["manager_id"], a["level"]) for a in alerts] == [("m-bob", "bad"), ("m-ann", "warn"), ("m-bob", "warn")]
    assert alerts[0]["text"] == "m-bob: 2 overdue callbacks" and alerts[0]["records"] == "/r/m-bob/tasks_overdue"
    assert alerts[1]["text"] == "m-ann: 6 to confirm, up from 2 a day ago"
    assert alerts[2]["text"] == "m-bob: contact data 40 % complete"


def address(value: str, kind: str = "phone", **flags: bool) -> dict[str, Any]:
    return {"address": value, "kind": kind, **flags}


def test_a_contact_is_in_with_consent_and_one_usable_address_and_otherwise_out_for_the_first_reason() -> None:
    ok = {"consent": True, "addresses": [address("+14155550201"), address("+14155550299", wrong=True)]}
    assert judge(ok, "phone") == (None, ["+14155550201"])
    assert judge({"consent": None, "addresses": [address("+14155550201")]}, "phone") == ("no_consent", [])
    assert judge({"consent": False, "addresses": [address("+14155550201")]}, "phone") == ("consent_withdrawn", [])
    assert judge({"consent": True, "addresses": [address("a@b.test", "email")]}, "phone") == ("no_address", [])
    assert judge({"consent": True, "addresses": [address("+1415555")]}, "phone") == ("invalid_number", [])
    assert judge({"consent": True, "addresses": [address("+14155550201", blocked=True)]}, "phone")[0] == (
        "blocked_number"
    )
    both = {"consent": True, "addresses": [address("+14155550201", blocked=True), address("+14155550202", wrong=True)]}
    assert judge(both, "phone")[0] == "wrong_number", "REASONS' order decides between two bad addresses"
    assert judge({"consent": True, "addresses": [address("a@b.test", "email", bounced=True)]}, "email")[0] == (
        "bounced_address"
    )
    assert judge({"consent": True, "addresses": [address("a@b.test", "email", undeliverable=True)]}, "email")[0] == (
        "bounced_address"
    )
    assert judge({"consent": True, "addresses": [address("a@b.test", "email")]}, "email") == (None, ["a@b.test"])


def test_csv_starts_once_with_a_bom_and_a_header_and_continues_without() -> None:
    first = b"".join(csv_chunks(["a", "b"], [[1, None]]))
    assert first == "\ufeffa,b\r\n1,\r\n".encode()
    assert b"".join(csv_chunks(None, [[2, "x,y"]])) == b'2,"x,y"\r\n'


def test_the_report_page_groups_show_every_figure_once() -> None:
    shown = [name for _, names in GROUPS for name in names]
    assert sorted(shown) == sorted(FIGURES)
    assert all(len(names) <= 6 for _, names in GROUPS)  # a group is a table a laptop shows whole
