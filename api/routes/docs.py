"""``/api/v1/docs``: the interactive API page, with Swagger UI served by the node itself.

FastAPI's own page loads Swagger UI from a CDN, which leaves a blank page on a laptop with no
internet (a workshop's usual setting). The same page is served here with its script, style
and icon taken from the ``fastapi-offline`` distribution (Swagger UI 5, which reads the
OpenAPI 3.1 FastAPI writes), so it renders with nothing but the node.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import fastapi_offline
from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from api.deps import API_PREFIX
from ipchain.errors import NotFoundError

router = APIRouter(include_in_schema=False)

DOCS_PATH: Final = f"{API_PREFIX}/docs"
"""Where the page is."""

_ASSETS: Final = Path(fastapi_offline.__file__).resolve().parent / "static"
_FILES: Final = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon.png": "image/png",
}


@router.get(DOCS_PATH)
def docs(request: Request) -> HTMLResponse:
    """Swagger UI over the node's OpenAPI description, every asset from the node."""
    root = str(request.scope.get("root_path", ""))
    return get_swagger_ui_html(
        openapi_url=f"{root}{API_PREFIX}/openapi.json",
        title="ipchain register API",
        swagger_js_url=f"{root}{DOCS_PATH}/assets/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{DOCS_PATH}/assets/swagger-ui.css",
        swagger_favicon_url=f"{root}{DOCS_PATH}/assets/favicon.png",
        # No online validator badge: it would call validator.swagger.io.
        swagger_ui_parameters={"validatorUrl": None},
    )


@router.get(DOCS_PATH + "/assets/{name}")
def asset(name: str) -> FileResponse:
    """One of Swagger UI's files."""
    media_type = _FILES.get(name)
    if media_type is None:
        raise NotFoundError(f"no docs asset {name}")
    return FileResponse(
        _ASSETS / name, media_type=media_type, headers={"Cache-Control": "max-age=86400"}
    )
