"""
The live viewer's script and style, served from this fixed allow-list at ``/live-assets/<name>``.

They are strings, not files: a name outside :data:`ASSETS` (``..``, ``%2e%2e`` or anything else) is a 404,
and no path is ever built from a request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import PlainTextResponse, Response

if TYPE_CHECKING:
    from starlette.requests import Request

VIEWER_JS = r"""
(() => {
  "use strict";
  const socketUrl = document.body.dataset.socket;
  const stage = document.getElementById("stage");
  const screen = document.getElementById("screen");
  const tabs = document.getElementById("tabs");
  const address = document.getElementById("address");
  const status = document.getElementById("status");
  const BUTTONS = ["left", "middle", "right", "back", "forward"];
  const pages = new Map();
  const waiting = new Map();
  let ws = null;
  let nextId = 1;
  let current = null;
  let meta = null;
  let resizeTimer = null;
  let casting = false;
  // A screencast started while its page is between two documents (a navigation under way, a tab switched
  // to during its first load) can send the old document's picture and then nothing, for good: on Chromium
  // 156, 3 to 5 in 10 starts right after a navigation began, and 2 in 8 switches to a loading tab. One
  // started on a settled page, or running before a navigation began, always went on. So the screencast is
  // started again when no frame comes within FRAME_DUE_MS of a start or of the page's new address (a new
  // document always paints), and when it has been quiet for QUIET_MS after a frame: the frame that came may
  // have been the old document's last (the order of the events cannot tell). A start on a settled page sends
  // one frame, so a still page costs one frame every QUIET_MS while someone watches, and nothing otherwise.
  const FRAME_DUE_MS = 1500;
  const QUIET_MS = 3000;
  const RESTARTS = 10;  // in a row without a frame
  let frameDue = null;
  let restarts = 0;

  function send(method, params) {
    const id = nextId++;
    if (!ws || ws.readyState !== WebSocket.OPEN) return Promise.resolve(null);
    ws.send(JSON.stringify({id, method, params: params || {}}));
    return new Promise((resolve) => waiting.set(id, resolve));
  }

  function say(text) { status.textContent = text; }

  function fit() {
    if (!meta) return;
    const scale = Math.min(stage.clientWidth / meta.deviceWidth, stage.clientHeight / meta.deviceHeight);
    screen.style.width = Math.max(1, Math.floor(meta.deviceWidth * scale)) + "px";
    screen.style.height = Math.max(1, Math.floor(meta.deviceHeight * scale)) + "px";
  }

  function stopCast() {
    if (casting) send("Page.stopScreencast");
    casting = false;
    clearTimeout(frameDue);
    frameDue = null;
  }

  function startCast() {
    stopCast();
    if (!current || document.hidden) return;
    casting = true;
    const ratio = window.devicePixelRatio || 1;
    send("Page.startScreencast", {
      format: "jpeg", quality: 75, everyNthFrame: 1,
      maxWidth: Math.max(64, Math.round(stage.clientWidth * ratio)),
      maxHeight: Math.max(64, Math.round(stage.clientHeight * ratio)),
    });
    expectFrame(FRAME_DUE_MS);
  }

  function expectFrame(ms) {
    clearTimeout(frameDue);
    frameDue = setTimeout(() => {
      frameDue = null;
      if (casting && restarts < RESTARTS) { restarts++; startCast(); }
    }, ms);
  }

  function renderTabs() {
    tabs.replaceChildren();
    if (pages.size < 2) { tabs.hidden = true; return; }
    tabs.hidden = false;
    for (const [id, info] of pages) {
      const tab = document.createElement("button");
      tab.type = "button";
      tab.setAttribute("role", "tab");
      tab.setAttribute("aria-selected", String(id === current));
      tab.textContent = info.title || info.url || "New tab";
      tab.title = info.url;
      tab.addEventListener("click", () => send("Target.activateTarget", {targetId: id}));
      tabs.appendChild(tab);
    }
  }

  function point(event) {
    const rect = screen.getBoundingClientRect();
    return {
      x: (event.clientX - rect.left) * meta.deviceWidth / rect.width,
      y: (event.clientY - rect.top) * meta.deviceHeight / rect.height,
    };
  }

  function modifiers(e) {
    return (e.altKey ? 1 : 0) | (e.ctrlKey ? 2 : 0) | (e.metaKey ? 4 : 0) | (e.shiftKey ? 8 : 0);
  }

  function mouse(type, e, extra) {
    if (!meta) return;
    const p = point(e);
    send("Input.dispatchMouseEvent", Object.assign(
      {type, x: p.x, y: p.y, modifiers: modifiers(e), button: "none", buttons: e.buttons}, extra));
  }

  screen.addEventListener("mousedown", (e) => {
    e.preventDefault();
    screen.focus();
    mouse("mousePressed", e, {button: BUTTONS[e.button] || "none", clickCount: e.detail || 1});
  });
  screen.addEventListener("mouseup", (e) => {
    mouse("mouseReleased", e, {button: BUTTONS[e.button] || "none", clickCount: e.detail || 1});
  });
  screen.addEventListener("mousemove", (e) => mouse("mouseMoved", e, {}));
  screen.addEventListener("wheel", (e) => {
    e.preventDefault();
    mouse("mouseWheel", e, {deltaX: e.deltaX, deltaY: e.deltaY});
  }, {passive: false});
  screen.addEventListener("contextmenu", (e) => e.preventDefault());
  screen.addEventListener("dragstart", (e) => e.preventDefault());

  function key(type, e) {
    if ((e.ctrlKey || e.metaKey) && (e.key === "v" || e.key === "V")) return;  // the paste event types it
    e.preventDefault();
    const printable = e.key.length === 1 && !e.ctrlKey && !e.metaKey;
    const params = {
      type: type === "keyDown" && !printable ? "rawKeyDown" : type,
      key: e.key, code: e.code, modifiers: modifiers(e),
      windowsVirtualKeyCode: e.keyCode, nativeVirtualKeyCode: e.keyCode,
    };
    if (type === "keyDown" && printable) params.text = e.key;
    if (type === "keyDown" && e.key === "Enter") { params.type = "keyDown"; params.text = "\r"; }
    send("Input.dispatchKeyEvent", params);
  }
  screen.addEventListener("keydown", (e) => key("keyDown", e));
  screen.addEventListener("keyup", (e) => key("keyUp", e));
  screen.addEventListener("paste", (e) => {
    const text = e.clipboardData ? e.clipboardData.getData("text") : "";
    if (text) send("Input.insertText", {text});
    e.preventDefault();
  });

  document.getElementById("go").addEventListener("submit", async (e) => {
    e.preventDefault();
    const reply = await send("Page.navigate", {url: address.value.trim()});
    if (reply && reply.error) say(reply.error.message);
  });

  document.addEventListener("visibilitychange", () => {
    if (document.hidden) stopCast(); else startCast();
  });
  window.addEventListener("resize", () => {
    fit();
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(startCast, 250);
  });

  function onEvent(m) {
    const p = m.params || {};
    switch (m.method) {
      case "Page.screencastFrame":
        restarts = 0;
        expectFrame(QUIET_MS);
        meta = p.metadata;
        screen.src = "data:image/jpeg;base64," + p.data;
        fit();
        send("Page.screencastFrameAck", {sessionId: p.sessionId});
        break;
      case "Target.attachedToTarget":
        casting = false;  // a new page: nothing runs there yet
        current = p.targetInfo.targetId;
        pages.set(current, p.targetInfo);
        address.value = p.targetInfo.url;
        say("");
        renderTabs();
        startCast();
        // Typing goes to the page at once: the person need not click into the view first.
        if (document.activeElement !== address) screen.focus({preventScroll: true});
        break;
      case "Target.detachedFromTarget":
        casting = false;
        current = null;
        say("The session has no open page.");
        break;
      case "Target.targetCreated":
      case "Target.targetInfoChanged": {
        const before = pages.get(p.targetInfo.targetId);
        pages.set(p.targetInfo.targetId, p.targetInfo);
        if (p.targetInfo.targetId === current && casting && before && before.url !== p.targetInfo.url) {
          restarts = 0;
          expectFrame(FRAME_DUE_MS);
        }
        if (p.targetInfo.targetId === current && document.activeElement !== address) {
          address.value = p.targetInfo.url;
        }
        renderTabs();
        break;
      }
      case "Target.targetDestroyed":
        pages.delete(p.targetId);
        renderTabs();
        break;
    }
  }

  async function refreshTabs() {
    const reply = await send("Target.getTargets");
    if (!reply || !reply.result) return;
    const fresh = new Map(reply.result.targetInfos.map((info) => [info.targetId, info]));
    const changed = fresh.size !== pages.size ||
      [...fresh].some(([id, info]) => !pages.has(id) || pages.get(id).title !== info.title);
    for (const [id, info] of fresh) pages.set(id, info);
    for (const id of [...pages.keys()]) if (!fresh.has(id)) pages.delete(id);
    if (changed) renderTabs();
  }

  ws = new WebSocket(socketUrl);
  ws.addEventListener("open", () => {
    refreshTabs();
    // Titles change without an event; while a tab strip is shown and watched, read them every 2 s.
    setInterval(() => { if (pages.size > 1 && !document.hidden) refreshTabs(); }, 2000);
  });
  ws.addEventListener("message", (event) => {
    const m = JSON.parse(event.data);
    if (m.id !== undefined && m.id !== null) {
      const resolve = waiting.get(m.id);
      waiting.delete(m.id);
      if (m.error && m.error.message) say(m.error.message);
      if (resolve) resolve(m);
      return;
    }
    onEvent(m);
  });
  ws.addEventListener("close", (event) => {
    document.body.classList.add("closed");
    say("Live view closed: " + (event.reason || "the session ended or this link expired") + ".");
  });
})();
"""

VIEWER_CSS = """
html, body { margin: 0; height: 100%; font: 14px/1.4 system-ui, sans-serif; background: #1f2937; }
body { display: flex; flex-direction: column; }
header { padding: 6px 12px; background: #f3f4f6; border-bottom: 1px solid #d1d5db; }
main { padding: 12px; background: #fff; flex: 1; }
#bar { display: flex; gap: 8px; padding: 4px 8px; background: #e5e7eb; align-items: center; }
#tabs { display: flex; gap: 4px; overflow-x: auto; }
#tabs button { max-width: 14em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap;
  border: 1px solid #9ca3af; background: #f9fafb; border-radius: 4px 4px 0 0; padding: 2px 8px; }
#tabs button[aria-selected="true"] { background: #fff; font-weight: 600; }
#go { display: flex; flex: 1; gap: 4px; }
#address { flex: 1; min-width: 8em; }
#stage { flex: 1; min-height: 0; display: flex; align-items: center; justify-content: center;
  overflow: hidden; }
#screen { display: block; background: #fff; outline: none; cursor: default; }
#screen:not([src]) { width: 0; height: 0; }
/* debuggerFullscreenUrl: the page alone (and the tab strip when there are several pages). */
body.fullscreen #go, body.fullscreen #bar:has(> #tabs[hidden]) { display: none; }
body.fullscreen #status:empty { display: none; }
#status { margin: 0; padding: 2px 8px; color: #f9fafb; min-height: 1.4em; }
body.closed #screen { opacity: 0.4; }
code { font-size: 13px; }
"""

ASSETS = {
    "viewer.js": (VIEWER_JS, "text/javascript; charset=utf-8"),
    "viewer.css": (VIEWER_CSS, "text/css; charset=utf-8"),
}


async def live_asset(request: Request) -> Response:
    """Serve ``/live-assets/<name>`` for a name in :data:`ASSETS`; anything else is a 404."""
    found = ASSETS.get(request.path_params["name"])
    if found is None:
        return PlainTextResponse("not found", status_code=404)
    content, media_type = found
    return Response(content, media_type=media_type, headers={"Cache-Control": "no-cache"})
