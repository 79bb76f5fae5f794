"""
A small shop website for the example DAGs: a paginated listing, a login form and a file download.

``login-2fa`` is the same login with a second factor, for the human-in-the-loop example: after the
password, ``verify`` asks for a one-time code that the site shows on another of its pages (``codes``,
opened in a new tab like an authenticator app), so a person can complete it offline. The code belongs to
that one sign-in attempt (a random nonce in a signed cookie) and is never the same twice.

Every link is relative, so the same app works at the root of its own server and mounted under a prefix
such as ``/demo`` on ``browserbase-local``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from html import escape
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from airflow_provider_browserbase.local.demo_site.data import (
    CODE_DIGITS,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    LOCAL_STORAGE_KEY,
    PAGE_COUNT,
    PENDING_COOKIE,
    PRODUCTS,
    REPORT_CSV,
    REPORT_FILENAME,
    SESSION_COOKIE,
    page_of_products,
)

if TYPE_CHECKING:
    from starlette.requests import Request

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 46rem; color: #1d1d1f; }
nav a { margin-right: 1rem; }
table { border-collapse: collapse; width: 100%; }
td, th { border-bottom: 1px solid #ddd; padding: .4rem; text-align: left; }
.price { text-align: right; font-variant-numeric: tabular-nums; }
.error { color: #b00020; }
"""
_COOKIE_MAX_AGE = 7 * 24 * 3600


def _page(title: str, body: str, *, status_code: int = 200, up: str = "") -> HTMLResponse:
    """A full HTML document; ``up`` is the relative path from this page back to the site's root."""
    nav = (
        f'<nav><a href="{up or "./"}">Home</a><a href="{up}products">Products</a>'
        f'<a href="{up}account">Account</a><a href="{up}download">Download</a></nav>'
    )
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body>{nav}<h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status_code)


def _cookie_path(request: Request) -> str:
    return (request.scope.get("root_path") or "") + "/"


def _sign(secret: bytes, username: str) -> str:
    digest = hmac.new(secret, username.encode(), hashlib.sha256).hexdigest()
    return f"{username}:{digest}"


def _signed_in_user(request: Request) -> str | None:
    value = request.cookies.get(SESSION_COOKIE, "")
    username, _, _ = value.rpartition(":")
    if username and hmac.compare_digest(value, _sign(request.app.state.demo_secret, username)):
        return username
    return None


async def index(request: Request) -> Response:
    body = (
        "<p>A small shop that every example DAG of airflow-provider-browserbase can work on offline.</p><ul>"
        f'<li><a href="products">Products</a>: {len(PRODUCTS)} items over {PAGE_COUNT} pages</li>'
        f'<li><a href="login">Sign in</a> (user <code>{DEMO_USERNAME}</code>, password '
        f'<code>{DEMO_PASSWORD}</code>), then see your <a href="account">account</a>; or '
        '<a href="login-2fa">sign in with a second factor</a></li>'
        f'<li><a href="download">Download</a> the monthly report</li></ul>'
    )
    return _page("Demo shop", body)


async def products(request: Request) -> Response:
    try:
        number = int(request.query_params.get("page", "1"))
    except ValueError:
        number = 0
    items = page_of_products(number)
    if not items:
        return _page("No such page", '<p><a href="products">Back to page 1</a></p>', status_code=404)
    rows = "".join(
        f'<tr class="product" data-sku="{escape(p.sku)}">'
        f'<td><a class="name" href="{escape(p.path)}">{escape(p.name)}</a></td>'
        f'<td class="sku">{escape(p.sku)}</td><td class="price">${p.price:.2f}</td></tr>'
        for p in items
    )
    links = []
    if number > 1:
        links.append(f'<a rel="prev" href="products?page={number - 1}">Previous</a>')
    if number < PAGE_COUNT:
        links.append(f'<a rel="next" href="products?page={number + 1}">Next</a>')
    body = (
        f'<table id="products"><thead><tr><th>Name</th><th>SKU</th><th class="price">Price</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
        f'<p class="pagination">Page {number} of {PAGE_COUNT} {" ".join(links)}</p>'
    )
    return _page(f"Products, page {number} of {PAGE_COUNT}", body)


async def product(request: Request) -> Response:
    sku = request.path_params["sku"]
    found = next((p for p in PRODUCTS if p.sku == sku), None)
    if found is None:
        back = '<p><a href="../products">All products</a></p>'
        return _page("No such product", back, status_code=404, up="../")
    body = (
        f'<dl class="product" data-sku="{escape(found.sku)}">'
        f'<dt>Name</dt><dd class="name">{escape(found.name)}</dd>'
        f'<dt>SKU</dt><dd class="sku">{escape(found.sku)}</dd>'
        f'<dt>Price</dt><dd class="price">${found.price:.2f}</dd></dl>'
    )
    return _page(found.name, body, up="../")


def _login_form(error: str = "") -> str:
    message = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    return (
        f'{message}<form method="post" action="login">'
        '<p><label>Username <input name="username" autocomplete="username" required></label></p>'
        '<p><label>Password <input name="password" type="password" autocomplete="current-password" '
        'required></label></p><p><button type="submit">Sign in</button></p></form>'
    )


async def login(request: Request) -> Response:
    if request.method == "GET":
        return _page("Sign in", _login_form())
    form = await request.form()
    username = str(form.get("username", ""))
    password = str(form.get("password", ""))
    if not _credentials_valid(username, password):
        return _page("Sign in", _login_form("Wrong username or password."), status_code=401)
    return _signed_in(request, username)


def _signed_in(request: Request, username: str) -> Response:
    # The page also remembers the user in localStorage, so a persisted context carries both kinds of state.
    script = (
        f"<script>localStorage.setItem({json.dumps(LOCAL_STORAGE_KEY)}, {json.dumps(username)});"
        'location.replace("account");</script>'
    )
    response = _page("Signed in", f'<p>Welcome back. <a href="account">Your account</a></p>{script}')
    response.set_cookie(
        SESSION_COOKIE,
        _sign(request.app.state.demo_secret, username),
        max_age=_COOKIE_MAX_AGE,
        path=_cookie_path(request),
        httponly=True,
        samesite="lax",
    )
    response.delete_cookie(PENDING_COOKIE, path=_cookie_path(request))
    return response


def _credentials_valid(username: str, password: str) -> bool:
    return hmac.compare_digest(username.encode(), DEMO_USERNAME.encode()) & hmac.compare_digest(
        password.encode(), DEMO_PASSWORD.encode()
    )


def _pending_nonce(request: Request) -> str | None:
    """The nonce of the sign-in attempt waiting for its code, if its cookie is the site's own."""
    value = request.cookies.get(PENDING_COOKIE, "")
    nonce, _, _ = value.rpartition(":")
    if nonce and hmac.compare_digest(value, _sign(request.app.state.demo_secret, nonce)):
        return nonce
    return None


def one_time_code(secret: bytes, nonce: str) -> str:
    """The code of the sign-in attempt ``nonce``: six digits derived from it with the site's key."""
    digest = hmac.new(secret, f"code:{nonce}".encode(), hashlib.sha256).digest()
    return str(int.from_bytes(digest[:8], "big") % 10**CODE_DIGITS).zfill(CODE_DIGITS)


def _two_factor_form(error: str = "") -> str:
    message = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    return (
        f'{message}<form method="post" action="login-2fa">'
        '<p><label>Username <input name="username" autocomplete="username" required autofocus></label></p>'
        '<p><label>Password <input name="password" type="password" autocomplete="current-password" '
        'required></label></p><p><button type="submit">Next</button></p></form>'
    )


async def login_two_factor(request: Request) -> Response:
    """The password step of the sign-in with a second factor; ``verify`` asks for the code."""
    if request.method == "GET":
        return _page("Sign in (two steps)", _two_factor_form())
    form = await request.form()
    if not _credentials_valid(str(form.get("username", "")), str(form.get("password", ""))):
        return _page("Sign in (two steps)", _two_factor_form("Wrong username or password."), status_code=401)
    response = RedirectResponse("verify", status_code=303)
    nonce = secrets.token_hex(8)
    response.set_cookie(
        PENDING_COOKIE,
        _sign(request.app.state.demo_secret, nonce),
        max_age=600,
        path=_cookie_path(request),
        httponly=True,
        samesite="lax",
    )
    return response


def _code_form(error: str = "") -> str:
    message = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    return (
        f"{message}<p>Enter the {CODE_DIGITS}-digit code shown on your "
        '<a id="codes-link" href="codes" target="_blank">security codes</a> page '
        "(it opens in a new tab).</p>"
        '<form method="post" action="verify"><p><label>Code <input name="code" id="code" '
        'inputmode="numeric" autocomplete="one-time-code" required autofocus></label></p>'
        '<p><button type="submit">Verify</button></p></form>'
    )


async def verify(request: Request) -> Response:
    """The code step: the code of this browser's pending sign-in signs the user in."""
    nonce = _pending_nonce(request)
    if nonce is None:
        return RedirectResponse("login-2fa", status_code=303)
    if request.method == "GET":
        return _page("Enter your code", _code_form())
    form = await request.form()
    code = str(form.get("code", "")).strip()
    if not hmac.compare_digest(code.encode(), one_time_code(request.app.state.demo_secret, nonce).encode()):
        return _page("Enter your code", _code_form("That code is not right."), status_code=401)
    return _signed_in(request, DEMO_USERNAME)


async def codes(request: Request) -> Response:
    """The "authenticator": the code of the sign-in this browser is in the middle of."""
    nonce = _pending_nonce(request)
    if nonce is None:
        return _page("Security codes", "<p>No sign-in is waiting for a code.</p>")
    code = one_time_code(request.app.state.demo_secret, nonce)
    body = f'<p>Your sign-in code: <strong id="one-time-code">{code}</strong></p>'
    return _page("Security codes", body)


async def logout(request: Request) -> Response:
    script = f"<script>localStorage.removeItem({json.dumps(LOCAL_STORAGE_KEY)});</script>"
    response = _page("Signed out", f'<p><a href="login">Sign in again</a></p>{script}')
    response.delete_cookie(SESSION_COOKIE, path=_cookie_path(request))
    return response


async def account(request: Request) -> Response:
    user = _signed_in_user(request)
    if user is None:
        return RedirectResponse("login", status_code=303)
    script = (
        f"<script>document.getElementById('remembered').textContent = "
        f"localStorage.getItem({json.dumps(LOCAL_STORAGE_KEY)}) || '';</script>"
    )
    body = (
        f'<p id="signed-in-as">Signed in as {escape(user)}</p>'
        '<p>Remembered by this browser: <span id="remembered"></span></p>'
        f'<p><a href="logout">Sign out</a></p>{script}'
    )
    return _page("Your account", body)


async def download(request: Request) -> Response:
    body = (
        "<p>The monthly report lists every product with its price.</p>"
        f'<p><a id="report" href="files/{REPORT_FILENAME}">Download {REPORT_FILENAME}</a> '
        f"({len(REPORT_CSV)} bytes)</p>"
    )
    return _page("Download", body)


async def report(request: Request) -> Response:
    return Response(
        REPORT_CSV,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{REPORT_FILENAME}"'},
    )


def create_demo_app() -> Starlette:
    """Build the demo site; sign-in cookies are signed with a key that lives as long as the app."""
    app = Starlette(
        routes=[
            Route("/", index),
            Route("/products", products),
            Route("/products/{sku}", product),
            Route("/login", login, methods=["GET", "POST"]),
            Route("/login-2fa", login_two_factor, methods=["GET", "POST"]),
            Route("/verify", verify, methods=["GET", "POST"]),
            Route("/codes", codes),
            Route("/logout", logout),
            Route("/account", account),
            Route("/download", download),
            Route(f"/files/{REPORT_FILENAME}", report),
        ]
    )
    app.state.demo_secret = secrets.token_bytes(32)
    return app
