"""
The server's own CDP calls to a session's browser.

Features that act on a session's browser themselves (settings applied to every page, the live view,
recordings, saving a context) talk to it through a :class:`CdpConnection` from
``BrowserProcess.open_cdp()``. Each such connection is a browser-level CDP connection of its own (its own
auto-attach and discovery state), as a separate websocket client to Chromium's DevTools endpoint would
be; the bytes travel over the browser's ``--remote-debugging-pipe`` (``cdp_mux.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable


class CdpError(RuntimeError):
    """Raised when Chromium answers a CDP call with an error, or the connection closes before it answers."""


class CdpConnection(Protocol):
    """A browser-level CDP connection owned by the server (never handed to a client)."""

    async def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session_id: str | None = None,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        """Send one command (to a child session when ``session_id`` is given); return its result or raise."""
        ...

    def add_listener(self, callback: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        """Call ``callback`` with every event (``method``, ``params``, ``sessionId``); return a remover."""
        ...

    async def close(self) -> None:
        """Detach from the browser; commands still waiting fail with :class:`CdpError`."""
        ...
