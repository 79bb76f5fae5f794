"""
``browserbase-local``: a Browserbase-compatible REST API served on this machine by headless Chromium.

Run it with ``browserbase-local`` (``--help`` lists the options) or in-process with
``with LocalServer(port=0) as server: ...``. Every session is its own Chromium; its ``connectUrl``
(``ws://HOST:PORT/?signingKey=KEY``) goes through a CDP proxy (``proxy.py``).

Where Browserbase's behaviour is undocumented or cannot be copied, these are the choices made:

- A session nobody connects to within the connect deadline (300 s) ends COMPLETED, not ERROR.
- Chromium runs with ``--remote-debugging-pipe`` (no TCP port); every CDP client gets its own
  browser-level session over that pipe (``cdp_mux.py``), and ``cdp_rules.py`` keeps its commands inside
  the session.
- Uploads are stored per session, not in one shared ``/tmp/.uploads``; the proxy maps the documented
  ``/tmp/.uploads/<name>`` in ``DOM.setFileInputFiles`` to the session's folder and refuses any other path.
- Downloads land in the session's folder whatever ``downloadPath`` a client names (relative
  ``"downloads"`` included). Playwright's own call on connect ("allowAndName" into its artifacts folder
  on the client's machine) is mapped the same way: the file is in the session's zip, as on Browserbase,
  and Playwright's ``download.path()`` finds nothing.
- ``file:`` URLs are refused unless ``--allow-file-urls``; browsers as root need ``--no-sandbox-as-root``.
- The live view is the server's own screencast viewer (``devtools.py``, ``live_assets.py``), reached with
  a token signed by a random per-session secret, which only ``GET /v1/sessions/<id>/debug`` hands out; it
  expires with the session or ``expiresIn``, and ``/debug`` answers 410 once the session ended.
- ``/sessions/<id>/live?token=...`` (the hook's ``session_url()``, linked from Airflow's UI) is that
  viewer; the id alone opens nothing. Whoever sees the link can control the session's pages while it
  runs, as Browserbase's dashboard link allows anyone logged into the project (see ``live_page.py``).
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
