"""Signals become Cancelled outside shielded blocks, and only after them inside."""

from __future__ import annotations

import os
import signal

import pytest

from kaniko_action.cancellation import CancelState, cancellation
from kaniko_action.errors import Cancelled


def _spin() -> None:
    for _ in range(10000):  # the Python-level handler runs between bytecodes
        pass


def _signal(sig: int) -> None:
    os.kill(os.getpid(), sig)
    _spin()


def test_a_signal_interrupts_unshielded_code() -> None:
    steps: list[str] = []

    def body() -> None:
        _signal(signal.SIGINT)
        steps.append("not interrupted")

    with cancellation() as cancel, pytest.raises(Cancelled) as caught:
        body()
    assert steps == []
    assert caught.value.signum == signal.SIGINT
    assert cancel.cancelled


def test_a_shielded_block_runs_to_its_end_and_the_signal_follows() -> None:
    steps: list[str] = []

    def body(cancel: CancelState) -> None:
        with cancel.shielded():
            _signal(signal.SIGTERM)
            steps.append("after the signal")
            _signal(signal.SIGINT)  # a second signal changes nothing
            steps.append("end of block")
        steps.append("not reached")

    with cancellation() as cancel, pytest.raises(Cancelled) as caught:
        body(cancel)
    assert steps == ["after the signal", "end of block"]
    assert caught.value.signum == signal.SIGTERM


def test_nested_shields_raise_only_when_the_outermost_ends() -> None:
    steps: list[str] = []

    def body(cancel: CancelState) -> None:
        with cancel.shielded():
            with cancel.shielded():
                _signal(signal.SIGINT)
            steps.append("outer continues")

    with cancellation() as cancel, pytest.raises(Cancelled):
        body(cancel)
    assert steps == ["outer continues"]


def test_an_exception_from_a_shielded_block_wins_and_the_signal_stays_recorded() -> None:
    def body(cancel: CancelState) -> None:
        with cancel.shielded():
            _signal(signal.SIGINT)
            raise KeyError("clean-up failed")

    with cancellation() as cancel:
        with pytest.raises(KeyError):
            body(cancel)
        # The recorded signal is raised when the next shield ends, once only.
        with pytest.raises(Cancelled), cancel.shielded():
            pass
        with cancel.shielded():
            pass


def test_after_a_cancellation_later_signals_are_ignored() -> None:
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        with cancellation(), pytest.raises(Cancelled):
            _signal(signal.SIGINT)
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def test_without_a_signal_the_previous_handlers_come_back() -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with cancellation() as cancel:
        assert signal.getsignal(signal.SIGINT) == cancel.handler
    assert {s: signal.getsignal(s) for s in before} == before
