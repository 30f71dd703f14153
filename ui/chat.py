"""The Gradio chat, mounted at /ui: ask (answers with their citations beside them), find
sources (passages grouped by document), and the library's list. Every handler calls the same
core functions as the CLI and the API, parses its input with the same contracts, and errors
reach the user as gr.Error messages."""

from __future__ import annotations

import html
import itertools
import re
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import gradio as gr

from kb.answer import answer_stream, composer_for
from kb.briefs import BriefStore
from kb.errors import KBError
from kb.keys import Caller, InvalidKey, KeyStore, Role
from kb.library import Library
from kb.search import search
from kb.settings import Settings
from kb.text import best_sentence, set_off_footnotes, terms
from kb.types import Answer, DocType, Hit, Reference
from ui.chat_brief import FORMAT_CHOICES, BriefBasket, anchors_from, brief_view, excerpt_choices
from ui.contracts import (
    AskRequest,
    SearchRequest,
    ask_response,
    filters_from,
    parse,
    reference_label,
    search_response,
)
from ui.links import Links
from ui.markdown import NO_LATEX, escape, md

EXAMPLES = [
    "What did the pilot projects learn about engaging the private sector?",
    "Which prerequisites did the IOM list for skills mobility partnerships?",
    "How was digitalisation discussed at the fourth LMPN conference?",
]
CSS = """
#citations blockquote { margin: 0.3em 0 0.6em 0; border-left: 3px solid #8aa; padding-left: 0.6em; }
#citations { max-height: 640px; overflow-y: auto; }
"""


def _label(ref: Reference, with_page: bool = True) -> str:
    return md(reference_label(ref, with_page))


def _newer(ref: Reference, links: Links) -> str:
    """' · superseded by a newer document' with its link, when the catalogue says so."""
    if not ref.superseded_by:
        return ""
    return f" · **superseded** by [a newer document]({links.file(ref.superseded_by)})"


def _link(ref: Reference, links: Links) -> str:
    return links.view(ref.doc_id, ref.page)


def quote_md(quote: str) -> str:
    """A quote as text, the source's own footnote markers set off (sharing³), never [n]."""
    return md(set_off_footnotes(quote))


def citations_markdown(answer: Answer, links: Links) -> str:
    if answer.abstained:
        lines = ["**No passage in the library answers this.** Closest documents:", ""]
        lines += [f"- [{md(r.title)}]({_link(r, links)}) · {_label(r)}" for r in answer.see_also]
        return "\n".join(lines)
    blocks = []
    for c in answer.citations:
        where = f"on page {c.page}" if c.page else "in the text"
        head = f"**\\[{c.n}\\] {md(c.title)}**  \n{_label(c)}{_newer(c, links)}"
        context = f"<small>…{md(c.context)}</small>\n\n" if c.context else ""
        view = links.view(c.doc_id, c.page, c.start, c.end)
        file = links.file(c.doc_id, c.page)
        blocks.append(
            f"{head}\n\n{context}> {quote_md(c.quote)}\n\n"
            f"[show {where}]({view}) · [original file]({file})"
        )
    return "\n\n".join(blocks)


_MARKER = re.compile(r"\\\[(\d+)\\\]")  # a marker [n] as md() escapes it


def answer_markdown(answer: Answer) -> str:
    """Quoted sentences one per line, each with its marker (easier to check than a
    paragraph); a language model's answer as it wrote it, markers in bold; the notice below."""
    if answer.abstained:
        titles = "; ".join(md(r.title) for r in answer.see_also)
        closest = f" The closest documents are: {titles}." if titles else ""
        return md(answer.answer) + closest
    if answer.composer == "extractive":
        text = "\n".join(f"- {quote_md(c.quote)} **\\[{c.n}\\]**" for c in answer.citations)
    else:
        text = _MARKER.sub(r"**\\[\1\\]**", md(answer.answer))
    return text + (f"\n\n_{md(answer.notice)}_" if answer.notice else "")


def _excerpt(text: str, limit: int = 420) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


def marked_words(text: str, query: str) -> str:
    """Text as Markdown-safe text on one line, the words the query shares (by stem) in bold,
    the source's footnote markers set off."""
    text = set_off_footnotes(" ".join(text.split()))
    wanted = set(terms(query))
    out, at = [], 0
    for word in re.finditer(r"\w+", text):
        out.append(escape(text[at : word.start()]))
        stems = set(terms(word.group()))
        shown = escape(word.group())
        out.append(f"**{shown}**" if stems and stems <= wanted else shown)
        at = word.end()
    out.append(escape(text[at:]))
    return "".join(out)


def _where(hit: Hit) -> str:
    ref = hit.citation
    if not ref.page:
        return "passage"
    printed = (
        f" (printed {md(ref.page_label)})"
        if ref.page_label and ref.page_label != str(ref.page)
        else ""
    )
    return f"p. {ref.page}{printed}"


def _relevance(hit: Hit) -> str:
    """The dense similarity as 0-100: the same scale in every search (fused scores are not)."""
    if hit.similarity is None:
        return ""
    return f"relevance {max(0, round(hit.similarity * 100))}"


def sources_markdown(hits: list[Hit], links: Links, query: str = "") -> str:
    """Passages grouped by document; each shows the sentence that matches the query best,
    the query's words in bold, with its section, page and relevance."""
    if not hits:
        return "No passages found."
    grouped: OrderedDict[str, list[Hit]] = OrderedDict()
    for hit in hits:
        grouped.setdefault(hit.citation.doc_id, []).append(hit)
    blocks = [f"**{len(hits)} passages in {len(grouped)} documents**"]
    for group in grouped.values():
        ref = group[0].citation
        lines = [
            f"### [{md(ref.title)}]({links.view(ref.doc_id)})",
            _label(ref, with_page=False),
            "",
        ]
        for hit in group:
            view = links.view(ref.doc_id, hit.citation.page, hit.start, hit.end)
            section = hit.section if hit.section and hit.section != ref.title else None
            about = [f"*{md(section)}*" if section else "", _relevance(hit)]
            span = best_sentence(query, hit.text) if query else None
            shown = hit.text[span[0] : span[1]] if span else hit.text
            lines.append(
                f"- [{_where(hit)}]({view}) {' · '.join(a for a in about if a)}  \n"
                f"  {marked_words(_excerpt(shown, 600), query)}"
            )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def evidence_frame(url: str | None) -> str:
    """The evidence viewer inside the chat: the cited page, the quote highlighted."""
    if not url:
        return ""
    return (
        f'<iframe src="{html.escape(url)}" title="The cited page, the quote highlighted" '
        'style="width:100%;height:720px;border:1px solid #ccc;border-radius:6px"></iframe>'
    )


def _evidence(reply: Answer, links: Links) -> tuple[Any, str]:
    """The picker of citations to show on their page, and the first one shown."""
    choices = [f"[{c.n}]" for c in reply.citations]
    first = reply.citations[0] if reply.citations else None
    url = links.view(first.doc_id, first.page, first.start, first.end) if first else None
    return gr.Radio(choices=choices, value=choices[0] if choices else None), evidence_frame(url)


def _picks(choices: list[tuple[str, str]] | None) -> Any:
    """The "Add to brief" boxes for the sources just shown (none ticked)."""
    return (
        gr.CheckboxGroup(choices=choices or [], value=[])
        if choices is not None
        else gr.CheckboxGroup(value=[])
    )


def role_markdown(caller: Caller) -> str:
    if caller.role is Role.anonymous:
        return "Browsing as **anonymous**: public documents only."
    who = f"**{md(caller.name)}** ({caller.role.value})"
    return f"Signed in as {who}: public and members-only documents."


def build_chat(
    library: Library, keys: KeyStore, settings: Settings, briefs: BriefStore
) -> gr.Blocks:
    basket = BriefBasket(library, briefs, settings)
    composer = composer_for(library, settings)

    def links_for(caller: Caller) -> Links:
        """Links relative to the server, so they work whichever address the page was opened
        at; signed for a signed-in reader, whose browser sends no API key."""
        return Links("", None if caller.role is Role.anonymous else keys.sign_link)

    def who(session_key: str | None) -> Caller:
        """The caller for this session's key, checked on every action: a key revoked while the
        page is open stops working at once."""
        try:
            return keys.caller(session_key)
        except InvalidKey as e:
            raise gr.Error(f"{e} Sign out, or sign in with a valid key.") from e

    def sign_in(key: str) -> tuple[str | None, str, str]:
        try:
            caller = keys.caller(key.strip() or None)
        except InvalidKey as e:
            raise gr.Error(f"{e} You are still browsing as before.") from e
        return key.strip() or None, role_markdown(caller), ""

    def sign_out() -> tuple[None, str]:
        return None, role_markdown(Caller())

    def ask(
        question: str,
        history: list[dict[str, Any]],
        session_key: str | None,
        types: list[str],
        date_from: str,
        date_to: str,
        languages: list[str],
    ) -> Iterator[tuple[Any, ...]]:
        """The answer as it is written (a language model's, sentence by sentence), with its
        citations beside it."""
        caller = who(session_key)
        try:
            filters = filters_from(types, date_from, date_to, languages)
            request = parse(AskRequest, question=question, filters=filters)
            answers = answer_stream(
                library,
                request.question,
                settings.answer,
                settings.retrieval,
                request.filters,
                caller.role.access,
                composer=composer,
            )
            first = next(answers)
        except KBError as e:
            raise gr.Error(str(e)) from e
        links = links_for(caller)
        asked = [*history, {"role": "user", "content": md(request.question)}]
        for reply in itertools.chain([first], answers):
            said = {"role": "assistant", "content": answer_markdown(reply)}
            data = ask_response(reply, links).model_dump(mode="json")
            picks = [(f"[{c.n}] {c.quote[:90]}", str(i)) for i, c in enumerate(reply.citations)]
            cited = citations_markdown(reply, links)
            yield [*asked, said], cited, "", data, _picks(picks), *_evidence(reply, links)

    def show_evidence(choice: str | None, data: dict[str, Any] | None) -> str:
        """The chosen citation's page, from the answer's own data (its signed view link)."""
        for citation in (data or {}).get("citations", []):
            if choice == f"[{citation['n']}]":
                return evidence_frame(str(citation["view_url"]))
        return ""

    def find(
        query: str,
        session_key: str | None,
        types: list[str],
        date_from: str,
        date_to: str,
        languages: list[str],
    ) -> tuple[str, dict[str, Any], Any]:
        caller = who(session_key)
        try:
            filters = filters_from(types, date_from, date_to, languages)
            request = parse(SearchRequest, query=query, k=20, filters=filters)
            hits = search(
                library,
                request.query,
                settings.retrieval,
                request.k,
                request.filters,
                caller.role.access,
            )
        except KBError as e:
            raise gr.Error(str(e)) from e
        links = links_for(caller)
        data = search_response(request.query, hits, links).model_dump(mode="json")
        picks = [
            (f"{h.citation.title[:40]}{f' p. {h.citation.page}' if h.citation.page else ''}: "
             f"{' '.join(h.text.split())[:70]}", str(i))
            for i, h in enumerate(hits)
        ]  # fmt: skip
        return sources_markdown(hits, links, request.query), data, _picks(picks)

    def show_brief(session_key: str | None, state: dict[str, Any]) -> tuple[Any, ...]:
        caller = who(session_key)
        brief, checked = basket.load(caller, state)
        view = brief_view(brief, checked, library, caller)
        choices = gr.Dropdown(choices=excerpt_choices(brief), value=None)
        return state, view, choices, brief.title

    def add(key: str) -> Any:
        def handler(
            picks: list[str], data: dict[str, Any], session_key: str | None, state: dict[str, Any]
        ) -> tuple[Any, ...]:
            caller = who(session_key)
            anchors = anchors_from(data, picks, key, caller, library)
            if not anchors:
                raise gr.Error("Tick the sources to add first.")
            try:
                basket.add(caller, state, anchors)
            except KBError as e:
                raise gr.Error(str(e)) from e
            gr.Info(f"Added {len(anchors)} excerpt(s) to the brief.")
            return (*show_brief(session_key, state), _picks(None))

        return handler

    def change(action: str) -> Any:
        def handler(
            excerpt_id: str | None, note: str, session_key: str | None, state: dict[str, Any]
        ) -> tuple[Any, ...]:
            caller = who(session_key)
            if not excerpt_id:
                raise gr.Error("Pick an excerpt first.")
            try:
                if action == "up":
                    basket.move(caller, state, excerpt_id, -1)
                elif action == "down":
                    basket.move(caller, state, excerpt_id, +1)
                elif action == "note":
                    basket.update(caller, state, excerpt_id, note=note.strip()[:4000])
                else:
                    basket.remove(caller, state, excerpt_id)
            except KBError as e:
                raise gr.Error(str(e)) from e
            state_, view, _, title = show_brief(session_key, state)
            brief, _ = basket.load(caller, state)
            keep = excerpt_id if action != "remove" else None
            return state_, view, gr.Dropdown(choices=excerpt_choices(brief), value=keep), title

        return handler

    def rename(title: str, session_key: str | None, state: dict[str, Any]) -> tuple[Any, ...]:
        caller = who(session_key)
        clean = " ".join(title.split())[:300]
        if not clean:
            raise gr.Error("A brief needs a title.")
        basket.rename(caller, state, clean)
        return show_brief(session_key, state)

    def export(fmt: str, session_key: str | None, state: dict[str, Any]) -> str:
        caller = who(session_key)
        try:
            return basket.export(caller, state, fmt or "docx", links_for(caller))
        except KBError as e:
            raise gr.Error(str(e)) from e

    def catalogue(session_key: str | None) -> str:
        caller = who(session_key)
        links = links_for(caller)
        rows = ["| Title | Type | Date | Language | Pages |", "|---|---|---|---|---|"]
        for d in library.documents(caller.role.access):
            kind = d.doc_type.value.replace("_", " ")
            date = d.date.isoformat() if d.date else ""
            link = links.file(d.doc_id)
            cells = [f"[{md(d.title)}]({link})", kind, date, md(d.language), str(d.pages or "")]
            rows.append(f"| {' | '.join(cells)} |")
        return "\n".join(rows)

    with gr.Blocks(title="Publications knowledge base") as blocks:
        session = gr.State(None)  # the session's API key, kept on the server
        gr.Markdown(
            "## Labour migration library\nAnswers quote the library's passages; "
            "each quote links to its source."
        )
        with gr.Row():
            role = gr.Markdown(role_markdown(Caller()), elem_id="role", **NO_LATEX)
            key = gr.Textbox(
                placeholder="Members: paste your API key",
                type="password",
                show_label=False,
                elem_id="api-key",
                scale=2,
            )
            sign_in_button = gr.Button("Sign in", elem_id="sign-in", scale=0)
            sign_out_button = gr.Button("Sign out", elem_id="sign-out", scale=0)
        with gr.Accordion("Filters", open=False):
            with gr.Row():
                types = gr.CheckboxGroup(
                    [t.value for t in DocType], label="Document type", elem_id="types"
                )
                languages = gr.CheckboxGroup(
                    ["en", "de", "fr"], label="Language", elem_id="languages"
                )
            with gr.Row():
                date_from = gr.Textbox(label="From (YYYY-MM-DD)", elem_id="date-from")
                date_to = gr.Textbox(label="To (YYYY-MM-DD)", elem_id="date-to")
        filters = [types, date_from, date_to, languages]
        with gr.Tab("Ask"):
            with gr.Row():
                with gr.Column(scale=3):
                    chat = gr.Chatbot(elem_id="chat", height=480, label="Answers", **NO_LATEX)
                    with gr.Row():
                        question = gr.Textbox(
                            placeholder="Ask about the library…",
                            show_label=False,
                            elem_id="question",
                            scale=5,
                        )
                        ask_button = gr.Button("Ask", variant="primary", elem_id="ask", scale=1)
                    gr.Examples(EXAMPLES, inputs=question)
                with gr.Column(scale=2):
                    gr.Markdown("### Sources")
                    cited = gr.Markdown("Citations appear here.", elem_id="citations", **NO_LATEX)
                    cite_pick = gr.CheckboxGroup([], label="Add to brief", elem_id="cite-pick")
                    add_cited = gr.Button("+ Brief", elem_id="add-cited", size="sm")
            evidence_pick = gr.Radio(
                [], label="Show a citation on its page", elem_id="evidence-pick"
            )
            evidence = gr.HTML("", elem_id="evidence")
            with gr.Accordion("Answer data (JSON: chunk ids and offsets)", open=False):
                answer_data = gr.JSON(elem_id="answer-data")
            for trigger in (ask_button.click, question.submit):
                trigger(
                    ask,
                    [question, chat, session, *filters],
                    [chat, cited, question, answer_data, cite_pick, evidence_pick, evidence],
                )
            evidence_pick.change(show_evidence, [evidence_pick, answer_data], evidence)
        with gr.Tab("Find sources"):
            with gr.Row():
                query = gr.Textbox(
                    placeholder="Search passages…", show_label=False, elem_id="query", scale=5
                )
                find_button = gr.Button("Find", variant="primary", elem_id="find", scale=1)
            found = gr.Markdown(elem_id="sources", **NO_LATEX)
            found_pick = gr.CheckboxGroup([], label="Add to brief", elem_id="found-pick")
            add_found = gr.Button("+ Brief", elem_id="add-found", size="sm")
            with gr.Accordion("Result data (JSON: chunk ids and offsets)", open=False):
                found_data = gr.JSON(elem_id="sources-data")
            for trigger in (find_button.click, query.submit):
                trigger(find, [query, session, *filters], [found, found_data, found_pick])
        with gr.Tab("Brief", elem_id="brief-tab"):
            basket_state = gr.State({})  # anonymous: this session only; signed in: its id
            with gr.Row():
                brief_title = gr.Textbox(label="Title", elem_id="brief-title", scale=4)
                rename_button = gr.Button("Rename", elem_id="brief-rename", scale=0)
            brief_md = gr.Markdown(elem_id="brief-view", **NO_LATEX)
            with gr.Row():
                pick = gr.Dropdown([], label="Excerpt", elem_id="brief-excerpt", scale=4)
                up = gr.Button("Move up", elem_id="brief-up", scale=0)
                down = gr.Button("Move down", elem_id="brief-down", scale=0)
                drop = gr.Button("Remove", elem_id="brief-remove", scale=0)
            with gr.Row():
                note = gr.Textbox(label="Note", elem_id="brief-note", scale=4)
                save_note = gr.Button("Save note", elem_id="brief-save-note", scale=0)
            with gr.Row():
                fmt = gr.Dropdown(
                    FORMAT_CHOICES, value="docx", label="Download as", elem_id="brief-format"
                )
                download_button = gr.Button("Download", elem_id="brief-download")
            brief_file = gr.File(label="File", elem_id="brief-file", interactive=False)
        brief_outputs = [basket_state, brief_md, pick, brief_title]
        add_cited.click(
            add("citations"), [cite_pick, answer_data, session, basket_state],
            [*brief_outputs, cite_pick],
        )  # fmt: skip
        add_found.click(
            add("results"), [found_pick, found_data, session, basket_state],
            [*brief_outputs, found_pick],
        )  # fmt: skip
        for button, action in ((up, "up"), (down, "down"), (drop, "remove"), (save_note, "note")):
            button.click(change(action), [pick, note, session, basket_state], brief_outputs)
        rename_button.click(rename, [brief_title, session, basket_state], brief_outputs)
        download_button.click(export, [fmt, session, basket_state], brief_file)
        with gr.Tab("Library"):
            table = gr.Markdown(elem_id="library", **NO_LATEX)
        blocks.load(catalogue, session, table).then(
            show_brief, [session, basket_state], brief_outputs
        )
        for trigger in (sign_in_button.click, key.submit):
            trigger(sign_in, key, [session, role, key]).then(catalogue, session, table).then(
                show_brief, [session, basket_state], brief_outputs
            )
        sign_out_button.click(sign_out, None, [session, role]).then(catalogue, session, table).then(
            show_brief, [session, basket_state], brief_outputs
        )
    chat_app: gr.Blocks = blocks
    return chat_app
