"""German and French questions searched by their English terms (kb/glossary.py)."""

from __future__ import annotations

import pytest

from kb.glossary import english_for, glossed, in_english, looks_german


@pytest.mark.parametrize(
    ("question", "language", "wanted", "gone"),
    [
        # A compound is split into known parts; function words go; names stay.
        ("Wie lange dauert das beschleunigte Fachkräfteverfahren?", "de",
         {"skilled", "procedure", "fast-track", "long"}, {"wie", "das"}),
        ("Muss ich mit der Chancenkarte krankenversichert sein?", "de",
         {"opportunity", "card", "health", "insurance"}, {"mit", "der"}),
        # Elisions are undone, the longest known phrase wins, accents do not matter.
        ("Quels frais pour la carte bleue européenne d'un demandeur d'emploi ?", "fr",
         {"blue", "card", "fee", "jobseeker"}, {"la", "bleue"}),
        ("Combien de temps pour un visa Health and Care Worker ?", "fr",
         {"how", "long", "visa", "Health", "Care", "Worker"}, {"temps"}),
    ],
)  # fmt: skip
def test_questions_are_searched_in_english(
    question: str, language: str, wanted: set[str], gone: set[str]
) -> None:
    words = set(in_english(question, language).split())
    assert wanted <= words
    assert not gone & {w.lower() for w in words}


def test_one_german_or_french_word_has_its_english() -> None:
    assert english_for("Chancenkarte") == "opportunity card"
    assert english_for("Pflegeausbildung") == "care nursing nurses vocational training"  # compound
    assert english_for("réfugiés") == "refugee refugees"
    assert english_for("Apotheker") == "pharmacists pharmacist"  # occupations asked by name
    assert english_for("Singapore") is None


def test_an_english_question_gets_the_english_of_the_german_names_it_uses() -> None:
    asked = "Can I take German classes at a Volkshochschule on the Chancenkarte?"
    assert glossed(asked) == f"{asked} (adult education centre; opportunity card)"
    # Words the glossary gives back as themselves, and the first word, add nothing.
    plain = "Visa rules of the European Migration Network Conference"
    assert glossed(plain) == plain


def test_german_terms_are_told_by_their_letters_and_endings() -> None:
    assert looks_german("Betriebsrat") and looks_german("Anerkennungspartnerschaft")
    assert looks_german("Auswärtiges") and looks_german("Amt's")
    assert not looks_german("Singapore") and not looks_german("Regulation")
