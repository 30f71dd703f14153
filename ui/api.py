"""The JSON API under /api (OpenAPI at /docs): a thin layer over `kb.library.Library`.

Requests are validated here (lengths, ranges, dates, known types) so that a bad request gets
a 4xx with a message a person understands; our errors are mapped to status codes in one place.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from kb.errors import DocumentNotFound, EmptyIndex, KBError
from kb.library import EVERYONE, Library
from kb.settings import Settings
from kb.types import Access, Citation, DocType, Document, Reference, SearchFilters

MAX_QUERY_CHARS = 2000
Query_ = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_QUERY_CHARS)
]


class Message(BaseModel):
    detail: str


class Invalid(BaseModel):
    detail: str = Field(description="What is wrong with the request, in one sentence per problem.")
    errors: list[dict[str, Any]] = Field(description="The same problems, structured.")


class Filters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    doc_type: list[DocType] | None = Field(None, description="Only these document types.")
    date_from: dt.date | None = Field(None, description="Dated on or after (YYYY-MM-DD).")
    date_to: dt.date | None = Field(None, description="Dated on or before (YYYY-MM-DD).")
    language: list[Annotated[str, StringConstraints(min_length=2, max_length=8)]] | None = None

    @model_validator(mode="after")
    def _ordered_dates(self) -> Filters:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("date_from must not be after date_to")
        return self

    def to_search(self) -> SearchFilters:
        return SearchFilters(
            doc_types=tuple(self.doc_type or ()),
            date_from=self.date_from,
            date_to=self.date_to,
            languages=tuple(self.language or ()),
        )


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: Query_
    k: int = Field(8, ge=1, le=50)
    filters: Filters | None = None


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: Query_
    k: int = Field(5, ge=1, le=50, description="Passages the answer may draw on.")
    filters: Filters | None = None


class SearchResult(BaseModel):
    text: str
    score: float
    citation: Reference


class SearchResponse(BaseModel):
    query: str
    results: list[SearchResult]


class AskResponse(BaseModel):
    answer: str
    citations: list[Citation]
    abstained: bool
    see_also: list[Reference] = Field(description="Closest documents, when the answer abstains.")


class DocumentOut(BaseModel):
    doc_id: str
    title: str
    doc_type: DocType
    date: dt.date | None
    language: str
    pages: int
    chunks: int
    source: str
    url: str | None = Field(description="The original public address, when known.")

    @classmethod
    def of(cls, doc: Document) -> DocumentOut:
        return cls(
            **doc.model_dump(include=set(cls.model_fields) - {"source"}),
            source=Path(doc.source).name,
        )


class DocumentList(BaseModel):
    documents: list[DocumentOut]
    total: int


class Health(BaseModel):
    status: str
    documents: int
    chunks: int
    embedder: str


def get_library(request: Request) -> Library:
    library: Library = request.app.state.library
    return library


def get_access() -> tuple[Access, ...]:
    """What the caller may see. Anonymous callers see public documents only."""
    return EVERYONE


LibraryDep = Annotated[Library, Depends(get_library)]
AccessDep = Annotated[tuple[Access, ...], Depends(get_access)]
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": Message, "description": "Unknown document."},
    409: {"model": Message, "description": "The library is empty."},
    422: {"model": Invalid, "description": "The request is not valid."},
}

router = APIRouter(prefix="/api", responses=ERRORS)


@router.get("/health", response_model=Health)
def health(library: LibraryDep) -> Health:
    return Health(
        status="ok",
        documents=len(library.document_map()),
        chunks=library.store.chunk_count(),
        embedder=library.embedder.name,
    )


@router.post("/search", response_model=SearchResponse)
def search(body: SearchRequest, library: LibraryDep, access: AccessDep) -> SearchResponse:
    filters = body.filters.to_search() if body.filters else None
    hits = library.search(body.query, body.k, filters, access)
    return SearchResponse(
        query=body.query,
        results=[SearchResult(text=h.text, score=h.score, citation=h.citation) for h in hits],
    )


@router.post("/ask", response_model=AskResponse)
def ask(body: AskRequest, library: LibraryDep, access: AccessDep) -> AskResponse:
    filters = body.filters.to_search() if body.filters else None
    answer = library.answer(body.question, filters, access, passages=body.k)
    return AskResponse(
        answer=answer.answer,
        citations=list(answer.citations),
        abstained=answer.abstained,
        see_also=list(answer.see_also),
    )


@router.get("/documents", response_model=DocumentList)
def documents(
    library: LibraryDep,
    access: AccessDep,
    doc_type: Annotated[list[DocType] | None, Query()] = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    language: Annotated[list[str] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> DocumentList:
    try:
        filters = Filters(
            doc_type=doc_type, date_from=date_from, date_to=date_to, language=language
        )
    except ValidationError as e:  # a backwards date range: a 422 like any other bad field
        raise RequestValidationError(e.errors(include_url=False)) from e
    docs = library.documents(access, filters.to_search())
    return DocumentList(
        documents=[DocumentOut.of(d) for d in docs[offset : offset + limit]], total=len(docs)
    )


@router.get("/documents/{doc_id}", response_model=DocumentOut)
def document(doc_id: str, library: LibraryDep, access: AccessDep) -> DocumentOut:
    return DocumentOut.of(library.document(doc_id, access))


@router.get(
    "/documents/{doc_id}/file",
    response_class=FileResponse,
    responses={200: {"description": "The original file.", "content": {"application/pdf": {}}}},
)
def document_file(doc_id: str, library: LibraryDep, access: AccessDep) -> FileResponse:
    doc = library.document(doc_id, access)
    # Only a path recorded at ingest is ever opened; nothing from the request reaches the disk.
    path = Path(doc.source)
    if not path.is_file():
        raise DocumentNotFound(doc_id)
    media_type = doc.content_type + (
        "; charset=utf-8" if doc.content_type.startswith("text/") else ""
    )
    return FileResponse(
        path, media_type=media_type, filename=path.name, content_disposition_type="inline"
    )


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DocumentNotFound)
    def _not_found(_: Request, exc: DocumentNotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(EmptyIndex)
    def _empty(_: Request, exc: EmptyIndex) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(KBError)
    def _bad(_: Request, exc: KBError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(RequestValidationError)
    def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # One readable sentence per problem, plus FastAPI's usual structured list.
        problems = [
            f"{'.'.join(str(p) for p in e['loc'] if p != 'body')}: {e['msg']}" for e in exc.errors()
        ]
        return JSONResponse(
            {"detail": "; ".join(problems), "errors": jsonable(exc.errors())}, status_code=422
        )


def jsonable(errors: Any) -> Any:
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder(errors, custom_encoder={ValueError: str, Exception: str})


def create_app(
    settings: Settings, library: Library | None = None, with_chat: bool = True
) -> FastAPI:
    """The server: the JSON API under /api and the chat under /ui."""
    app = FastAPI(
        title="Publications knowledge base",
        description="Search and question the library; every answer cites its passages.",
        version="0.1.0",
    )
    app.state.library = library or Library(settings)
    app.include_router(router)
    _error_handlers(app)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/ui/" if with_chat else "/docs")

    if with_chat:
        import gradio as gr

        from ui.chat import CSS, build_chat

        gr.mount_gradio_app(app, build_chat(app.state.library), path="/ui", css=CSS)
    return app
