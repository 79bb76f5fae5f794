"""
``/sessions/<id>/live?token=...``: the page a person opens from the "Browserbase Session" link in Airflow.

The link carries the session's live-view token (``devtools.py``), which only ``GET /v1/sessions/<id>/debug``
hands out, with the API key: the hook's ``session_url()`` fetches it there for any server that is not
Browserbase's cloud. A session id alone opens nothing: without a token signed for the session the page says
where to get one and shows nothing about the session.

While the session runs, the page is the live viewer of its pages (``live_assets.py``): a screencast with
mouse and keyboard input, and a tab strip when there are several pages. ``fullscreen=1`` leaves out the
status line (``debuggerFullscreenUrl``), ``page=<targetId>`` picks the page shown first. Once the session
ended, a token signed for it shows the status and the start and end times; an unknown id gets a 404 page.

Security: whoever holds the link can watch and control the session's pages until the session ends, which
is the trade Browserbase makes with its dashboard link. The page never shows the API key, the connect URL
or its signing key, and its token opens nothing but this session's pages.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from starlette.responses import HTMLResponse

from airflow_provider_browserbase.local import devtools
from airflow_provider_browserbase.local.records import iso

if TYPE_CHECKING:
    from starlette.requests import Request

    from airflow_provider_browserbase.local.config import LocalConfig
    from airflow_provider_browserbase.local.records import Session

# The live view carries a token: neither the browser nor a proxy may keep a copy of the page, and no
# request from it may carry the URL on as a Referer.
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}

VIEWER = """<!doctype html>
<html lang="en"><head>
<meta charset="utf-8">
<meta name="referrer" content="no-referrer">
<title>{title} · browserbase-local</title>
<link rel="stylesheet" href="/live-assets/viewer.css">
</head><body class="{mode}" data-socket="{socket}">
{header}<nav id="bar"><div id="tabs" role="tablist" hidden></div>
<form id="go"><input id="address" aria-label="Address" autocomplete="off" spellcheck="false">
<button type="submit">Go</button></form></nav>
<div id="stage"><img id="screen" alt="Live view of the session's page" tabindex="0" draggable="false"></div>
<p id="status" role="status">Connecting…</p>
<script src="/live-assets/viewer.js"></script>
</body></html>
"""

PAGE = """<!doctype html>
<html lang="en"><head>
<meta charset="utf-8">{head}
<title>{title} · browserbase-local</title>
<style>
  html, body {{ margin: 0; height: 100%; font: 14px/1.4 system-ui, sans-serif; }}
  body {{ display: flex; flex-direction: column; }}
  header {{ padding: 6px 12px; background: #f3f4f6; border-bottom: 1px solid #d1d5db; }}
  main {{ padding: 12px; }}
  iframe {{ flex: 1; width: 100%; border: 0; }}
  code {{ font-size: 13px; }}
</style>
</head><body>
{body}
</body></html>
"""


def _page(title: str, body: str, status_code: int = 200, head: str = "") -> HTMLResponse:
    content = PAGE.format(title=html.escape(title), body=body, head=head)
    return HTMLResponse(content, status_code=status_code, headers=NO_STORE)


def _times(session: Session) -> str:
    parts = [f"started {html.escape(iso(session.started_at) or '')}"]
    if session.ended_at is not None:
        parts.append(f"ended {html.escape(iso(session.ended_at) or '')}")
    else:
        parts.append(f"expires {html.escape(iso(session.expires_at) or '')}")
    return ", ".join(parts)


def _viewer(
    config: LocalConfig, session: Session, token: str, page: str | None, fullscreen: bool
) -> HTMLResponse:
    extra = {"page": page} if page else {}
    socket = devtools.socket_url(config, session, token, **extra)
    header = ""
    if not fullscreen:
        sid, status = html.escape(session.id), html.escape(session.status)
        summary = f"Session <code>{sid}</code> is <strong>{status}</strong>"
        header = f"<header>{summary} ({_times(session)}): live view</header>\n"
    content = VIEWER.format(
        title=html.escape(f"Session {session.id} (live)"),
        socket=html.escape(socket, quote=True),
        header=header,
        mode="fullscreen" if fullscreen else "inspect",
    )
    origin = socket.split("/sessions/", 1)[0]
    headers = {
        **NO_STORE,
        "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src data:; "
        f"connect-src {origin}; base-uri 'none'; form-action 'none'",
    }
    return HTMLResponse(content, headers=headers)


async def session_live_page(request: Request) -> HTMLResponse:
    """Serve ``GET /sessions/<id>/live?token=...`` (no API key: the token is the capability)."""
    session_id = request.path_params["session_id"]
    session = request.app.state.registry.sessions.get(session_id)
    if session is None:
        sid = html.escape(session_id)
        body = f"<main><p>There is no session <code>{sid}</code> on this server.</p></main>"
        return _page("Session not found", body, status_code=404)
    token = request.query_params.get("token", "")
    if not devtools.token_signed(session, token):
        body = (
            "<main><p>This live view needs the link handed out by <code>GET /v1/sessions/{id}/debug</code> "
            "(the Browserbase Session link in Airflow carries it); a session id alone opens nothing."
            "</p></main>"
        )
        return _page("Live view link needed", body, status_code=401)
    sid = html.escape(session.id)
    if not session.live:
        body = (
            f"<main><p>Session <code>{sid}</code> has ended with status "
            f"<strong>{html.escape(session.status)}</strong> ({_times(session)}); its live view is no longer "
            "available.</p></main>"
        )
        return _page(f"Session {session.id} (ended)", body)
    if session.browser is None:
        summary = f"Session <code>{sid}</code> is <strong>{html.escape(session.status)}</strong>"
        body = f"<main><p>{summary} ({_times(session)}) without a browser (the server runs --no-browser): "
        body += "there is no live view.</p></main>"
        return _page(f"Session {session.id}", body)
    if not devtools.token_valid(session, token):
        body = "<main><p>This live-view link has expired; get a new one from "
        body += "<code>GET /v1/sessions/{id}/debug</code>.</p></main>"
        return _page("Live view link expired", body, status_code=401)
    page = request.query_params.get("page")
    fullscreen = request.query_params.get("fullscreen") == "1"
    return _viewer(request.app.state.config, session, token, page, fullscreen)
