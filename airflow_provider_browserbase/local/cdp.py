"""A minimal one-shot CDP client for the server's own calls to a browser."""

from __future__ import annotations

import itertools
import json
from typing import Any

import websockets

_ids = itertools.count(1)


class CdpError(RuntimeError):
    """Raised when Chromium answers a CDP call with an error."""


async def cdp_call(
    ws_url: str, method: str, params: dict[str, Any] | None = None, timeout: float = 10.0
) -> Any:
    """Open a fresh connection to ``ws_url``, send one command and return its result."""
    async with websockets.connect(
        ws_url, max_size=None, ping_interval=None, compression=None, open_timeout=timeout
    ) as ws:
        call_id = next(_ids)
        await ws.send(json.dumps({"id": call_id, "method": method, "params": params or {}}))
        while True:
            reply = json.loads(await ws.recv(decode=True))
            if reply.get("id") != call_id:
                continue
            if "error" in reply:
                raise CdpError(f"{method}: {reply['error'].get('message')}")
            return reply.get("result", {})
