"""The display words of the machine's codes: the acronyms written once, for every page."""

import pytest

from treatments import labels
from treatments.machine import EventType, State


@pytest.mark.parametrize("code", [*State, *EventType])
def test_every_state_and_event_reads_as_words_with_its_acronyms_in_capitals(code):
    words = labels.code_words(str(code))

    assert "_" not in words
    for part in str(code).split("_"):
        assert (labels.ACRONYMS.get(part) or part) in words.split(" ")


def test_acronyms_are_capitals_and_other_words_stay_as_stored():
    assert labels.code_words("ssa_started") == "SSA started"
    assert labels.code_words("prrt_cycle_given") == "PRRT cycle given"
    assert labels.code_words("residual_disease") == "residual disease"
