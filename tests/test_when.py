"""Time in a question becomes a date range and an order (kb/when.py); what a question asks
for decides which sentence carries the answer (kb/answer_types.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kb.answer_types import (
    carries_answer,
    compares,
    in_force_terms,
    lacks_pinpoint,
    pinpoints,
)
from kb.gate import spellings
from kb.text import question_language
from kb.types import SearchFilters
from kb.when import Events, named_months, names_month, time_frame, topic

D = dt.date


@pytest.mark.parametrize(
    ("question", "start", "end"),
    [
        ("What happened in November 2024?", D(2024, 11, 1), D(2024, 11, 30)),
        ("News from March 2021 on pilot projects", D(2021, 3, 1), D(2021, 3, 31)),
        ("What has the network published since 2023?", D(2023, 1, 1), None),
        ("Which projects ended after 2022?", D(2023, 1, 1), None),
        ("What did the MPF publish before 2022?", None, D(2021, 12, 31)),
        ("Anything until June 2020?", None, D(2020, 6, 30)),
        ("How many nurses arrived in 2020?", D(2020, 1, 1), D(2020, 12, 31)),
        ("What is the Blue Card?", None, None),
    ],
)
def test_dates_in_a_question_become_a_range(
    question: str, start: dt.date | None, end: dt.date | None
) -> None:
    frame = time_frame(question)
    assert (frame.date_from, frame.date_to) == (start, end)


def test_latest_asks_for_the_newest_first() -> None:
    assert time_frame("What was the latest conference about?").newest_first
    assert time_frame("the most recent EMN inform").newest_first
    assert not time_frame("What did the pilot projects learn?").newest_first


def test_a_question_of_time_alone_has_no_topic() -> None:
    assert topic("What happened in November 2024?") == set()
    assert topic("What was published since 2023?") == set()
    assert topic("What did the network say about nurses in 2024?") == {"network", "nurs"}


def test_the_callers_own_dates_win() -> None:
    frame = time_frame("What happened in 2024?")
    mine = SearchFilters(date_from=D(2024, 6, 1))
    assert frame.merged(mine).date_from == D(2024, 6, 1)
    assert frame.merged(mine).date_to == D(2024, 12, 31)
    # A range that would leave nothing is not applied.
    assert frame.merged(SearchFilters(date_from=D(2025, 1, 1))).date_to is None


@pytest.mark.parametrize(
    ("question", "sentence", "carries"),
    [
        ("How long does recognition take?", "It takes up to six months.", True),
        ("How long does recognition take?", "Recognition may be delayed.", False),
        ("How many migrants are not fluent?", "One in four migrants is not fluent.", True),
        ("Why were companies reluctant?", "Companies grew reluctant due to the recession.", True),
        ("Why were companies reluctant?", "Companies contribute to mobility schemes.", False),
        ("Can I change employer?", "Workers may change employer after ninety days.", True),
        ("What did the pilots learn?", "Anything at all.", None),
    ],
)
def test_sentences_that_carry_what_is_asked(question: str, sentence: str, carries: bool) -> None:
    assert carries_answer(question, sentence) is carries


@pytest.mark.parametrize(
    ("question", "sentence", "pinpoints_it"),
    [
        ("How many members does the network have?", "It gathers over 220 members.", True),
        ("How many legal pathways were mapped?", "It shows the 290-odd pathways.", True),
        ("How many legal pathways were mapped?", "It covers the 27 member states.", False),
        ("Up to which month was it updated?", "It was updated to February 2024.", True),
        ("Up to which month was it updated?", "It was updated in 2024.", False),
        ("Since when do the bans apply?", "They apply from 2 February 2025.", True),
        ("When was the first session held?", "On June 8th 2020, MPF hosted it.", True),
        ("When was the first session held?", "It was held in 2020.", False),
        ("What gross salary do I need?", "A salary of €45,300 is required.", True),
        ("What gross salary do I need?", "Salary thresholds apply.", False),
        ("How much does the test cost?", "The test costs 25 euros.", True),
        ("How long is the visa valid?", "It is granted for up to 5 years.", True),
        ("How soon must the agency reply?", "It replies within a week.", True),
        ("How long must the readings differ?", "For more than 10 seconds.", True),
        ("How long is the visa valid?", "Students may work 20 hours per week.", False),
        ("How much time do partnerships need?", "They need years.", None),
        ("When does an authority revoke protection?", "If the person is a danger.", None),
        ("What charge must a sponsor pay?", "The Immigration Skills Charge.", None),
    ],
)
def test_sentences_that_pinpoint_what_is_asked(
    question: str, sentence: str, pinpoints_it: bool | None
) -> None:
    assert pinpoints(question, sentence) is pinpoints_it
    assert lacks_pinpoint(question, [sentence]) is (pinpoints_it is False)


@pytest.mark.parametrize(
    ("question", "comparison"),
    [
        ("How does the 2020 brief compare with the 2025 report?", True),
        ("Do the Q&A and the settlement page agree on the waiting time?", True),
        ("How do the inform and the brief each describe the New Pact?", True),
        ("Did the 2020 brief already call for it, as the 2025 conference did?", True),
        ("What changed between the first and the second conference?", True),
        ("Do both the Charter and the Convention protect the right to marry?", True),
        ("Does the Q&A give the same deadline as the one-page overview?", True),
        ("How do the two tables each rate care workers?", True),
        ("What did the 2020 brief recommend?", False),
        ("Can each family member work?", False),
        ("Is the salary threshold the same for shortage occupations?", False),
        ("Can both spouses work in Germany?", False),
    ],
)
def test_comparisons_are_told_by_their_words_or_two_years(question: str, comparison: bool) -> None:
    assert compares(question) is comparison


def test_names_match_across_british_and_american_spelling() -> None:
    assert "organisation" in spellings("Organization")
    assert "labor" in spellings("Labour") and "centre" in spellings("Center")
    # A German name in an English question counts where the text says it in English.
    assert "germany" in spellings("Deutschland")
    assert any("foreigners authority" in v for v in spellings("Ausländerbehörde"))
    assert spellings("Austria") == {"austria", "austrian"}


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("Wie lange dauert die Anerkennung von Berufsqualifikationen?", "de"),
        ("Quelles sont les conditions de la carte bleue européenne ?", "fr"),
        ("Qui finance les projets pilotes ?", "fr"),
        ("Is the EU Blue Card open to IT specialists?", "en"),
        ("What did the Pilot Projects learn?", "en"),
    ],
)
def test_questions_not_in_english_are_recognised(question: str, language: str) -> None:
    assert question_language(question) == language


def test_named_events_date_a_question(tmp_path: Path) -> None:
    events_file = tmp_path / "events.csv"
    events_file.write_text(
        "name,date,aliases\n"
        "New Pact on Migration and Asylum,2020-09-23,New Pact; the Pact's proposal\n"
        "Brexit,2020-01-31,\n",
        encoding="utf-8",
    )
    events = Events.read(events_file)
    before = time_frame("What did the network publish before the New Pact?", events)
    assert before.date_to == D(2020, 8, 31) and before.date_from is None
    since = time_frame("What has changed for posted workers since Brexit?", events)
    assert since.date_from == D(2020, 1, 1)
    # Named without a time word, an event is a topic, not a date.
    assert time_frame("What does the New Pact say about talent?", events).empty
    assert Events.read(tmp_path / "missing.csv").dated("before Brexit") == "before Brexit"


def test_the_sample_librarys_events_file_reads() -> None:
    events = Events.read(Path(__file__).parents[1] / "corpus" / "events.csv")
    assert events.dated("before the New Pact") == "before September 2020"


def test_a_question_for_when_a_rule_applies_also_looks_for_how_laws_say_it() -> None:
    assert "shall apply from" in in_force_terms("From what date has the DSA applied?")
    assert "into force" in in_force_terms("When did the Skilled Immigration Act come into force?")
    assert in_force_terms("When does the visa rule apply to students?") == ""  # "when does": if
    assert in_force_terms("What applies to students?") == ""


def test_a_named_month_is_asked_about_unless_it_bounds_a_range() -> None:
    assert named_months("How many checks were run in Texas in December 2015?") == {(2015, 12)}
    assert named_months("Since November 2023, what has changed for families?") == set()
    assert named_months("What changed in 2024?") == set()


@pytest.mark.parametrize(
    ("text", "names_it"),
    [
        ("Checks run in December 2015, by state.", True),
        ("Comments must be received by December 1, 2015.", True),
        ("The workshop took place on 3 Dec. 2015.", True),
        ("Period covered: 12/2015.", True),
        ("Checks run in November 2015, by state.", False),
        ("Checks run in December 2016, by state.", False),
    ],
)
def test_a_passage_names_a_month_in_any_of_its_spellings(text: str, names_it: bool) -> None:
    assert names_month(text, 2015, 12) is names_it
