"""GET /: a small HTML page showing the static asset, rendered once from the settings."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse

ASSET = "logo.svg"  # under STATIC_URL: the CDN (uploaded by make push) or the app's /static

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>scalable-app</title>
</head>
<body>
<h1>scalable-app</h1>
<p><img src="{asset_url}" alt="scalable-app logo" width="160" height="160"></p>
</body>
</html>
"""


def render(static_url: str) -> bytes:
    return _PAGE.format(asset_url=escape(f"{static_url}/{ASSET}", quote=True)).encode()


def homepage_endpoint(static_url: str) -> Callable[[Request], Awaitable[HTMLResponse]]:
    """The endpoint: the same bytes for every request, rendered when the app is built."""
    body = render(static_url)

    async def homepage(request: Request) -> HTMLResponse:
        return HTMLResponse(body)

    return homepage
