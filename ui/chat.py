"""The Gradio chat, mounted at /ui: ask (answers with their citations beside them), find
sources (passages grouped by document), and the library's list. Every handler calls the same
`Library` methods as the CLI and the API; errors reach the user as gr.Error messages."""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import gradio as gr

from kb.errors import KBError
from kb.keys import Caller, InvalidKey, KeyStore, Role
from kb.library import Library
from kb.types import Answer, DocType, Hit, Reference, SearchFilters

MAX_CHARS = 2000
EXAMPLES = [
    "What did the pilot projects learn about engaging the private sector?",
    "Which prerequisites did the IOM list for skills mobility partnerships?",
    "How was digitalisation discussed at the fourth LMPN conference?",
]
CSS = """
#citations blockquote { margin: 0.3em 0 0.6em 0; border-left: 3px solid #8aa; padding-left: 0.6em; }
#citations { max-height: 640px; overflow-y: auto; }
"""


Signer = Callable[[str], str] | None


def _link(ref: Reference, sign: Signer = None) -> str:
    """A link relative to the server, so it works whichever address the page was opened at;
    signed for a signed-in reader, whose browser sends no API key when following it."""
    parts = urlsplit(ref.url)
    query = f"?token={sign(ref.doc_id)}" if sign else ""
    return parts.path + query + (f"#{parts.fragment}" if parts.fragment else "")


def _label(ref: Reference) -> str:
    bits = [ref.doc_type.value.replace("_", " ")]
    if ref.date:
        bits.append(ref.date.isoformat())
    if ref.page:
        bits.append(f"p. {ref.page}")
    return " · ".join(bits)


def citations_markdown(answer: Answer, sign: Signer = None) -> str:
    if answer.abstained:
        lines = ["**No passage in the library answers this.** Closest documents:", ""]
        lines += [f"- [{r.title}]({_link(r, sign)}) · {_label(r)}" for r in answer.see_also]
        return "\n".join(lines)
    blocks = []
    for c in answer.citations:
        page = f"open at page {c.page}" if c.page else "open the source"
        blocks.append(
            f"**[{c.n}] {c.title}**  \n{_label(c)}\n\n> {c.quote}\n\n[{page}]({_link(c, sign)})"
        )
    return "\n\n".join(blocks)


def answer_markdown(answer: Answer) -> str:
    """One quoted sentence per line, each with its marker: easier to check than a paragraph."""
    if answer.abstained:
        titles = "; ".join(r.title for r in answer.see_also)
        closest = f" The closest documents are: {titles}." if titles else ""
        return answer.answer + closest
    return "\n".join(f"- {c.quote} **[{c.n}]**" for c in answer.citations)


def _excerpt(text: str, limit: int = 420) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


def sources_markdown(hits: list[Hit], sign: Signer = None) -> str:
    if not hits:
        return "No passages found."
    grouped: OrderedDict[str, list[Hit]] = OrderedDict()
    for hit in hits:
        grouped.setdefault(hit.citation.doc_id, []).append(hit)
    blocks = []
    for group in grouped.values():
        ref = group[0].citation
        lines = [f"### [{ref.title}]({_link(ref, sign)})", f"{_label(ref).split(' · p.')[0]}", ""]
        for hit in group:
            where = f"p. {hit.citation.page}" if hit.citation.page else "open"
            section = f"*{hit.section}* — " if hit.section else ""
            lines.append(f"- [{where}]({_link(hit.citation, sign)}) {section}{_excerpt(hit.text)}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def parse_filters(
    types: list[str], date_from: str, date_to: str, languages: list[str]
) -> SearchFilters:
    """The chat's filter widgets as SearchFilters; a malformed date is the user's to fix."""

    def day(value: str, name: str) -> dt.date | None:
        value = (value or "").strip()
        if not value:
            return None
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise gr.Error(f"{name} must be a date like 2024-01-31, not '{value}'.") from None

    start, end = day(date_from, "From"), day(date_to, "To")
    if start and end and start > end:
        raise gr.Error("The 'From' date is after the 'To' date.")
    return SearchFilters(
        doc_types=tuple(DocType(t) for t in types or []),
        date_from=start,
        date_to=end,
        languages=tuple(languages or []),
    )


def _check(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise gr.Error("Type a question first.")
    if len(text) > MAX_CHARS:
        raise gr.Error(f"Please keep it under {MAX_CHARS} characters.")
    return text


def role_markdown(caller: Caller) -> str:
    if caller.role is Role.anonymous:
        return "Browsing as **anonymous**: public documents only."
    return (
        f"Signed in as **{caller.name}** ({caller.role.value}): public and members-only documents."
    )


def build_chat(library: Library, keys: KeyStore) -> gr.Blocks:
    def signer(caller: Caller) -> Signer:
        return None if caller.role is Role.anonymous else keys.sign_link

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
    ) -> tuple[list[dict[str, Any]], str, str]:
        question = _check(question)
        caller = who(session_key)
        filters = parse_filters(types, date_from, date_to, languages)
        try:
            answer = library.answer(question, filters, caller.role.access)
        except KBError as e:
            raise gr.Error(str(e)) from e
        history = [
            *history,
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer_markdown(answer)},
        ]
        return history, citations_markdown(answer, signer(caller)), ""

    def find(
        query: str,
        session_key: str | None,
        types: list[str],
        date_from: str,
        date_to: str,
        languages: list[str],
    ) -> str:
        query = _check(query)
        caller = who(session_key)
        filters = parse_filters(types, date_from, date_to, languages)
        try:
            hits = library.search(query, 20, filters, caller.role.access)
        except KBError as e:
            raise gr.Error(str(e)) from e
        return sources_markdown(hits, signer(caller))

    def catalogue(session_key: str | None) -> str:
        caller = who(session_key)
        rows = ["| Title | Type | Date | Language | Pages |", "|---|---|---|---|---|"]
        for d in library.documents(caller.role.access):
            title = d.title.replace("|", "\\|")
            kind = d.doc_type.value.replace("_", " ")
            date = d.date.isoformat() if d.date else ""
            sign = signer(caller)
            link = f"/api/documents/{d.doc_id}/file" + (f"?token={sign(d.doc_id)}" if sign else "")
            rows.append(f"| [{title}]({link}) | {kind} | {date} | {d.language} | {d.pages or ''} |")
        return "\n".join(rows)

    with gr.Blocks(title="Publications knowledge base") as blocks:
        session = gr.State(None)  # the session's API key, kept on the server
        gr.Markdown(
            "## Labour migration library\nAnswers quote the library's passages; "
            "each quote links to its source."
        )
        with gr.Row():
            role = gr.Markdown(role_markdown(Caller()), elem_id="role")
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
                    chat = gr.Chatbot(elem_id="chat", height=480, label="Answers")
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
                    cited = gr.Markdown("Citations appear here.", elem_id="citations")
            for trigger in (ask_button.click, question.submit):
                trigger(ask, [question, chat, session, *filters], [chat, cited, question])
        with gr.Tab("Find sources"):
            with gr.Row():
                query = gr.Textbox(
                    placeholder="Search passages…", show_label=False, elem_id="query", scale=5
                )
                find_button = gr.Button("Find", variant="primary", elem_id="find", scale=1)
            found = gr.Markdown(elem_id="sources")
            for trigger in (find_button.click, query.submit):
                trigger(find, [query, session, *filters], found)
        with gr.Tab("Library"):
            table = gr.Markdown(elem_id="library")
        blocks.load(catalogue, session, table)
        for trigger in (sign_in_button.click, key.submit):
            trigger(sign_in, key, [session, role, key]).then(catalogue, session, table)
        sign_out_button.click(sign_out, None, [session, role]).then(catalogue, session, table)
    return blocks
