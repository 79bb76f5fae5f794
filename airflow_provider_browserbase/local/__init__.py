"""
``browserbase-local``: a Browserbase-compatible REST API served on this machine by headless Chromium.

Run it with ``browserbase-local`` (``--help`` lists the options) or in-process with
``with LocalServer(port=0) as server: ...``. Every session is its own Chromium; its ``connectUrl``
(``ws://HOST:PORT/?signingKey=KEY``) goes through a CDP proxy (``proxy.py``).

Where Browserbase's behaviour is undocumented or cannot be copied, these are the choices made:

- A session nobody connects to within the connect deadline (300 s) ends COMPLETED, not ERROR.
- Uploads are stored per session, not in one shared ``/tmp/.uploads``; the proxy maps the documented
  ``/tmp/.uploads/<name>`` in ``DOM.setFileInputFiles`` to the session's folder.
- Downloads reach the session's zip when the client sends ``Browser.setDownloadBehavior`` (any path,
  relative ``"downloads"`` included); Playwright's own call on connect is left alone so its download
  API works, and, as on Browserbase, those files are not in the zip.
- Live-view URLs carry an HMAC token in their path (``/debug/<sid>/<token>/devtools/...``) that expires
  with the session or ``expiresIn``; ``/debug`` answers 410 once the session ended.
- ``/sessions/<id>/live`` (the hook's ``session_url()``, linked from Airflow's UI) needs no API key: it
  embeds the session's live view with the same token ``/debug`` hands out, so whoever sees the link can
  control the browser while the session runs, as Browserbase's dashboard link allows anyone logged into
  the project. It never shows the API key or the signing key (see ``live_page.py``).
- Release of an ended session answers 200 with the session unchanged; any ``projectId`` is accepted.
- Release ends the session at once unless ``release_delay`` (``--release-delay``) is set: then, as on
  Browserbase, whose release is asynchronous, the answer still says RUNNING and the session ends
  COMPLETED after the delay, browser and clients alive until then. The last client's disconnect (without
  ``keepAlive``) is a release too and waits the same; a release during the delay changes nothing.
- ``timeout_scale`` (``LocalServer`` only) multiplies session lifetimes, so tests can see TIMED_OUT
  without waiting the 60 s minimum; ``expiresAt`` reports the scaled, real end.
- ``/_admin`` fault injection exists only with ``enable_admin=True`` (``--enable-admin``).
- Limits Browserbase does not document (``ServerLimits``, one flag each): a body or upload over its size
  answers 413, a zip bomb 400, a stalled body 408; contexts and extensions past their count answer 429
  with ``x-should-retry: false`` (a slot frees only by a delete), like the session limit. After
  ``ended_retention`` an ended session answers an empty log and an empty downloads zip but keeps its
  record; past ``max_ended_sessions`` the oldest ended session is forgotten (404).
- Requests must name the server in ``Host`` and WebSockets from other origins are refused (see
  ``network.py``): a web page cannot reach the server by DNS rebinding or a cross-origin socket.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_browserbase.local.config import DEV_API_KEY, LocalConfig

if TYPE_CHECKING:
    from airflow_provider_browserbase.local.server import LocalServer

__all__ = ["DEV_API_KEY", "LocalConfig", "LocalServer"]


def __getattr__(name: str) -> Any:
    # Imported on first use: the server pulls in FastAPI, uvicorn and Airflow (seconds), which the
    # command's argument checks and ``--help`` do not need.
    if name == "LocalServer":
        from airflow_provider_browserbase.local.server import LocalServer

        return LocalServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
