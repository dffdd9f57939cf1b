"""The wrong-number/spam flag on labelled simulated office weeks, fed through the classifier's real pure steps with
managers answering its questions (bench/simulator/evaluate_flags.py); `pytest -s` prints the scores. The floors
are issue 11's targets, asserted on seeds and a parameter mix the weights were not tuned on."""

from __future__ import annotations

from dataclasses import replace

from bench.simulator.evaluate_flags import (
    HEADER,
    HELD_OUT_SEEDS,
    HELD_OUT_SHAPE,
    OFFICE_SHAPE,
    TUNING_SEEDS,
    evaluate,
    run_week,
)


def test_on_the_held_out_office_flags_are_precise_catch_most_and_hide_no_clients_missed_call() -> None:
    totals = evaluate(HELD_OUT_SHAPE, HELD_OUT_SEEDS)
    print(f"\n{HEADER}\n{totals.row(f'held-out mix, held-out seeds {HELD_OUT_SEEDS}')}")
    flags = totals.flags
    assert flags.precision is not None and flags.recall is not None
    assert flags.precision >= 0.95
    assert flags.recall >= 0.70
    assert (flags.recall_of("wrong_number") or 0) >= 0.6 and (flags.recall_of("spam") or 0) >= 0.6
    assert totals.client_misses > 300
    assert totals.hidden_share <= 0.01, "at most 1% of real clients' missed calls without a callback task"


def test_unfilled_leads_do_not_turn_real_clients_into_wrong_numbers() -> None:
    """Issue 11's finding: precision fell from 0.94-0.97 to 0.42-0.46 when managers left 30% of leads unfilled."""
    filled = evaluate(replace(OFFICE_SHAPE, unfilled_lead_share=0.0), TUNING_SEEDS[:1]).flags
    unfilled = evaluate(replace(OFFICE_SHAPE, unfilled_lead_share=1.0), TUNING_SEEDS[:1]).flags
    print(f"\nall leads filled: {filled.line()}\nnone filled: {unfilled.line()}")
    assert filled.precision is not None and unfilled.precision is not None
    assert unfilled.precision >= filled.precision - 0.02
    assert unfilled.false_positive <= filled.false_positive + 2


def test_a_number_answered_for_is_rarely_asked_about_again() -> None:
    week = run_week(TUNING_SEEDS[0])
    assert week.asked > 50
    assert week.asked_again <= week.asked * 0.15


def test_managers_answers_are_what_lifts_recall() -> None:
    learning, static = run_week(7), run_week(7, feedback=False)
    print(f"\nwithout managers' answers: {static.flags.line()}\nwith them: {learning.flags.line()}")
    assert learning.flags.recall is not None and static.flags.recall is not None
    assert learning.flags.precision is not None and static.flags.precision is not None
    assert learning.flags.recall > static.flags.recall + 0.03
    assert learning.flags.precision >= static.flags.precision - 0.02


def test_the_classifiers_callback_tasks_are_the_labelled_ones_where_no_flag_intervenes() -> None:
    week = run_week(11, feedback=False)
    print("\n".join(week.callbacks.lines()))
    assert week.callbacks.expected > 50 and week.callbacks.matched > 40
    assert week.callbacks.ok, "\n".join(week.callbacks.lines())
