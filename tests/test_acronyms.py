"""Acronyms a file defines are spelled out in the passages that use them bare."""

from __future__ import annotations

from kb.acronyms import find_definitions, glossary, spelled_in, spelled_out
from tests.conftest import CORPUS


def test_definitions_are_read_with_their_long_forms() -> None:
    text = (
        "The International Centre for Migration Policy Development (ICMPD) runs the "
        "Migration Partnership Facility (MPF). Skills Mobility Partnerships (SMPs) differ. "
        "The European Union (EU) and small and medium-sized enterprises (SMEs) too. Assign "
        "a Certificate of Sponsorship (CoS) and pay the Immigration Skills Charge (ISC)."
    )
    assert dict(find_definitions(text)) == {
        "ICMPD": "International Centre for Migration Policy Development",
        "MPF": "Migration Partnership Facility",
        "SMPs": "Skills Mobility Partnerships",
        # two-letter acronyms are left out: too well known or too ambiguous to help
        "SMEs": "small and medium-sized enterprises",
        "CoS": "Certificate of Sponsorship",
        "ISC": "Immigration Skills Charge",
    }


def test_brackets_that_are_not_definitions_are_ignored() -> None:
    text = "The fee (EUR 411) is paid by the employer (see Annex II) within three weeks (ABC)."
    assert list(find_definitions(text)) == []


def test_a_passage_gets_the_long_forms_of_what_it_uses_bare() -> None:
    terms = glossary([(CORPUS / "lmpn-network-page.txt").read_text(encoding="utf-8")])
    assert terms["LMPN"] == "Labour Migration Practitioners’ Network"
    assert spelled_out("Launched in early 2022, the EU LMPN is open to practitioners", terms) == (
        "Labour Migration Practitioners’ Network",
    )
    # a passage that spells the name out, or does not use the acronym, gets nothing
    assert spelled_out("The Labour Migration Practitioners’ Network (LMPN) met.", terms) == ()
    assert spelled_out("Practitioners met in Brussels.", terms) == ()
    assert spelled_out("The LMPN's members met.", terms) == (
        "Labour Migration Practitioners’ Network",
    )


def test_an_acronym_counts_where_the_text_spells_it_out() -> None:
    text = "After five years you can apply for indefinite leave to remain in the UK."
    assert spelled_in("ILR", text)
    assert spelled_in("VLOP's", "Each very large online platform shall be audited.")
    assert not spelled_in("ILR", "You can apply to remain after five years.")
    assert not spelled_in("Ilr", text)  # not an acronym
    assert not spelled_in("EU", "every union")  # two letters: too many chance matches
