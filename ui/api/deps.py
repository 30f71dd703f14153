"""Dependencies: the library, who is calling, and what they may see or do."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from kb.compose import Composer
from kb.keys import Caller, KeyStore
from kb.library import Library
from kb.settings import Settings
from kb.types import Access
from ui.api.guard import request_key
from ui.contracts import Invalid, Message
from ui.links import Links

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer KEY`.")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key.")


def get_library(request: Request) -> Library:
    library: Library = request.app.state.library
    return library


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_keys(request: Request) -> KeyStore:
    keys: KeyStore = request.app.state.keys
    return keys


def get_composer(request: Request) -> Composer:
    composer: Composer = request.app.state.composer
    return composer


def get_links(request: Request) -> Links:
    """Links in API responses start at the server's public address (KB_BASE_URL)."""
    settings: Settings = request.app.state.settings
    return Links(settings.base_url)


def get_caller(
    request: Request,
    _bearer_key: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    _header_key: Annotated[str | None, Depends(_api_key)],
) -> Caller:
    """Anonymous without a key; a wrong or revoked key is a 401, never anonymous."""
    keys: KeyStore = request.app.state.keys
    return keys.caller(request_key(request.headers))


CallerDep = Annotated[Caller, Depends(get_caller)]


def get_access(caller: CallerDep) -> tuple[Access, ...]:
    return caller.role.access


def get_editor(caller: CallerDep) -> Caller:
    """Staff and admins only."""
    if caller.role.name == "anonymous":
        raise HTTPException(401, "Sign in with a staff key to change the library.")
    if not caller.role.may_edit:
        raise HTTPException(403, "Only staff and admins may change the library.")
    return caller


LibraryDep = Annotated[Library, Depends(get_library)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
KeysDep = Annotated[KeyStore, Depends(get_keys)]
LinksDep = Annotated[Links, Depends(get_links)]
ComposerDep = Annotated[Composer, Depends(get_composer)]
AccessDep = Annotated[tuple[Access, ...], Depends(get_access)]
EditorDep = Annotated[Caller, Depends(get_editor)]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Message, "description": "Unknown or revoked API key."},
    404: {"model": Message, "description": "Unknown document."},
    409: {"model": Message, "description": "The library is empty or busy."},
    503: {"model": Message, "description": "The store is not answering; see Retry-After."},
    422: {"model": Invalid, "description": "The request is not valid."},
    429: {"model": Message, "description": "Too many requests; see Retry-After."},
}
