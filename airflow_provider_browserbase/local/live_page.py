"""
``/sessions/<id>/live``: the page a person opens from the "Browserbase Session" link in Airflow's UI.

The hook's ``session_url()`` points here for any server that is not Browserbase's cloud. It takes no API
key, since a browser following a link cannot send one. While the session runs, it embeds Chromium's
DevTools live view of the session's first page: the same ``debuggerFullscreenUrl``, with the same
expiring HMAC token, that ``GET /v1/sessions/<id>/debug`` hands out. Once the session ended, it says so,
with the status and the start and end times; an unknown id gets a 404 page.

Security: whoever can open this page can watch and control the session's browser while it runs, so
whoever can see the task's extra links in Airflow gets that control. That is the trade Browserbase makes
with its dashboard link, which gives the same to anyone logged into the Browserbase project. Only the
live-view token is handed out: never the API key, the connect URL or its signing key, and no secret of
the server. The token is valid only for this session and only until it ends.
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

# The live view carries a token: neither the browser nor a proxy may keep a copy of the page.
NO_STORE = {"Cache-Control": "no-store"}
RELOAD_SECONDS = 2

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


async def _live_page(config: LocalConfig, secret: bytes, session: Session) -> HTMLResponse:
    sid = html.escape(session.id)
    summary = f"Session <code>{sid}</code> is <strong>{html.escape(session.status)}</strong>"
    if session.browser is None:
        body = f"<main><p>{summary} ({_times(session)}) without a browser (the server runs --no-browser): "
        body += "there is no live view.</p></main>"
        return _page(f"Session {session.id}", body)
    urls = await devtools.live_urls(config, secret, session, None)
    if not urls["pages"]:
        # Chromium may be between pages (one closed, the next not open yet): look again shortly.
        body = f"<main><p>{summary} ({_times(session)}) but has no open page yet; "
        body += f"this page reloads every {RELOAD_SECONDS} s.</p></main>"
        head = f'\n<meta http-equiv="refresh" content="{RELOAD_SECONDS}">'
        return _page(f"Session {session.id}", body, head=head)
    view = html.escape(urls["pages"][0]["debuggerFullscreenUrl"], quote=True)
    body = (
        f"<header>{summary} ({_times(session)}): live view of its first page, "
        f'<a href="{view}" target="_blank" rel="noopener noreferrer">open it in its own tab</a></header>\n'
        f'<iframe id="live-view" src="{view}" title="Live view of the session\'s first page"></iframe>'
    )
    return _page(f"Session {session.id} (live)", body)


async def session_live_page(request: Request) -> HTMLResponse:
    """Serve ``GET /sessions/<id>/live`` (no API key: see the module docstring)."""
    session_id = request.path_params["session_id"]
    session = request.app.state.registry.sessions.get(session_id)
    if session is None:
        sid = html.escape(session_id)
        body = f"<main><p>There is no session <code>{sid}</code> on this server.</p></main>"
        return _page("Session not found", body, status_code=404)
    if session.live:
        return await _live_page(request.app.state.config, request.app.state.secret, session)
    body = (
        f"<main><p>Session <code>{html.escape(session.id)}</code> has ended with status "
        f"<strong>{html.escape(session.status)}</strong> ({_times(session)}); its live view is no longer "
        "available.</p></main>"
    )
    return _page(f"Session {session.id} (ended)", body)
