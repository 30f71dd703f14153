from ingest.clean import (
    CleanStats,
    clean_pages,
    drop_repeated_paragraphs,
    find_headings,
    normalise_characters,
    rejoin_hyphenated,
    split_glued_words,
    strip_running_lines,
    unwrap_lines,
)


def test_ligatures_spaces_and_soft_hyphens_are_normalised() -> None:
    assert (
        normalise_characters("ﬁnancial\u00a0eﬀort in\u00adter\u200bnal")
        == "financial effort internal"
    )


def test_words_broken_across_lines_are_rejoined_but_compounds_keep_their_hyphen() -> None:
    stats = CleanStats()
    text = "the talent frame-\nwork and multi-\nstakeholder work with well-\nknown partners"
    assert rejoin_hyphenated(text, stats) == (
        "the talent framework and multi-stakeholder work with well-known partners"
    )
    assert stats.hyphen_repairs == 3


def test_a_compound_seen_elsewhere_in_the_text_keeps_its_hyphen() -> None:
    text = "a public-private partnership and another public-\nprivate one"
    assert "public-private one" in rejoin_hyphenated(text, CleanStats())


def test_running_headers_and_page_counters_are_dropped_but_body_is_kept() -> None:
    topics = ["seasonal work", "family reunification", "intra-corporate transfers", "researchers"]
    body = [
        "Member States shall decide on {t}.",
        "Applicants for {t} may appeal.",
        "Rules on {t}.",
        "Decisions on {t} are given in writing.",
    ]
    pages = [
        "\n".join(
            [f"L 180/{n} EN Official Journal of the European Union 29.6.2013"]
            + [b.format(t=t) for b in body]
            + [f"Page {n} of 4"]
        )
        for n, t in enumerate(topics, start=1)
    ]
    stats = CleanStats()
    cleaned = strip_running_lines(pages, 0.5, stats)
    assert cleaned == ["\n".join(b.format(t=t) for b in body) for t in topics]
    assert stats.header_footer_lines == 8


def test_a_line_repeated_on_few_pages_is_not_a_running_header() -> None:
    pages = [
        "Chapter one\ntext a",
        "Chapter one\ntext b",
        "other\ntext c",
        "other2\ntext d",
        "x\ntext e",
        "y\ntext f",
    ]
    assert strip_running_lines(pages, 0.5, CleanStats())[0] == "Chapter one\ntext a"


def test_lines_of_a_paragraph_are_joined_and_bullets_kept_apart() -> None:
    text = (
        "Policy recommendations\nTime and flexibility are key to building\n"
        "partnerships that last.\n• First point\n• Second point"
    )
    assert unwrap_lines(text).split("\n\n") == [
        "Policy recommendations",
        "Time and flexibility are key to building partnerships that last.",
        "• First point",
        "• Second point",
    ]


def test_a_pull_quote_repeating_the_body_is_indexed_once() -> None:
    body = (
        "Projects that have been able to continuously consult and update their requirements "
        "in line "
        "with developments in the labour market have proven the best equipped to stay relevant."
    )
    quote = (
        "Projects that have been able to continuously consult and update requirements in line with "
        "developments in the labour market have proven the best equipped."
    )
    stats = CleanStats()
    out = drop_repeated_paragraphs(f"{body}\n\nOther text here.\n\n{quote}", stats)
    assert out == f"{body}\n\nOther text here."
    assert stats.duplicate_paragraphs == 1


def test_a_sentence_cut_by_a_box_is_joined_again() -> None:
    pages = [
        "The best projects invested in trust in the inception phase, or\n\n"
        "Actors speak different languages.\n\neven at incubation stage."
    ]
    text = clean_pages(pages)[0]
    assert "inception phase, or even at incubation stage." in text


def test_headings_are_found_with_their_offsets() -> None:
    text = "Introduction\n\nSome body text that is a sentence.\n\nThe art of matching\n\nMore text."
    found = find_headings(text)
    assert [h for _, h in found] == ["Introduction", "The art of matching"]
    assert all(text[offset:].startswith(heading) for offset, heading in found)


def _pages_with(first: list[str], last: list[str], n: int = 6) -> list[str]:
    topics = [
        "wages",
        "housing",
        "travel",
        "training",
        "contracts",
        "language",
        "pensions",
        "visas",
    ]
    return [
        "\n".join(
            [f.format(n=i + 1) for f in first]
            + [
                f"Body about {topics[i]} {j} for workers in sector {topics[-i - 1]}."
                for j in range(6)
            ]
            + [f.format(n=i + 1) for f in last]
        )
        for i in range(n)
    ]


def test_facing_page_headers_and_headers_pushed_up_by_footnotes_are_removed() -> None:
    pages = _pages_with([], [])
    for i in range(len(pages)):
        counter = (
            f"{i + 1}/6 ELI: http://data.europa.eu/eli/reg/2024/1689/oj"
            if i % 2
            else f"ELI: http://data.europa.eu/eli/reg/2024/1689/oj {i + 1}/6"
        )
        header = "OJ L, 12.7.2024 EN" if i % 2 else "EN OJ L, 12.7.2024"
        laws = ["Directive", "Regulation", "Decision", "Notice", "Opinion", "Report"]
        footnotes = "\n".join(
            f"({i}{k}) Footnote on the {laws[(i + k) % 6]} of {laws[k]} matters." for k in range(5)
        )
        pages[i] = f"{pages[i]}\n{header}\n{footnotes}\n{counter}"
    cleaned = strip_running_lines(pages, 0.5, CleanStats())
    assert all("OJ L, 12.7.2024" not in p and "ELI:" not in p for p in cleaned)
    assert all(p.count("Footnote on the") == 5 for p in cleaned)


def test_structure_headings_and_numbers_in_tables_are_never_running_lines() -> None:
    pages = _pages_with(["Article {n}"], ["3416", "£25,000"])
    cleaned = strip_running_lines(pages, 0.5, CleanStats())
    assert all(p.startswith(f"Article {i + 1}\n") for i, p in enumerate(cleaned))
    assert all(p.endswith("3416\n£25,000") for p in cleaned)


def test_letter_spaced_headings_are_joined() -> None:
    text = "c o n v e n t i o n  a n d  p r o t o c o l\nC H A P T E R  I\nA normal line\nx y"
    assert normalise_characters(text) == "convention and protocol\nCHAPTER I\nA normal line\nx y"


def test_line_end_hyphens_extracted_as_spaced_dashes_are_repaired() -> None:
    stats = CleanStats()
    text = "a profes - sional career with for - mal training. Pay a fee - and wait. Formal rules."
    assert rejoin_hyphenated(text, stats) == (
        "a professional career with formal training. Pay a fee - and wait. Formal rules."
    )
    assert stats.hyphen_repairs == 2


def test_a_spaced_hyphen_at_the_end_of_a_line_is_repaired() -> None:
    # pypdf on the BMWK fast-track brochure: "an appoint -\nment to apply for a visa"
    stats = CleanStats()
    text = (
        "given an appoint -\nment within three weeks.\nFees -\nsee below. An appointment.\n"
        "A skills shortage -\nincluding in care."
    )
    assert rejoin_hyphenated(text, stats) == (
        "given an appointment within three weeks.\nFees -\nsee below. An appointment.\n"
        "A skills shortage -\nincluding in care."  # a dash, not a break: no such word
    )
    assert stats.hyphen_repairs == 1


def test_words_run_together_are_split_only_where_both_halves_are_words_of_the_text() -> None:
    stats = CleanStats()
    text = (
        "Updated ‘Call for Proposals’ was updated. UpdatedCall for Proposals is out. "
        "At ICMPD’s Vienna conference in Vienna, ICMPD’sVienna panel. "
        "You need JavaScript; see the (MGSoG) and (LaMP) pages, page number 2 at "
        "example.org/?pageNumber=2."
    )
    split = split_glued_words(text, stats)
    assert "Updated Call for Proposals" in split and "ICMPD’s Vienna panel" in split
    assert "JavaScript" in split and "(MGSoG)" in split and "(LaMP)" in split
    assert "?pageNumber=2" in split  # a web address is left alone
    assert stats.glued_words == 2
