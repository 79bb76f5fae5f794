"""
Pydantic models of the Browserbase REST API (v1).

Python names are snake_case; the wire names are camelCase aliases (``keep_alive`` <-> ``keepAlive``).
Session settings are forward compatible: fields this project knows are validated before any request
(a bad value fails naming the field and rule), fields it does not know are kept and sent unchanged
(Browserbase adds settings, regions and proxy options more often than this provider is released), and
:func:`settings_warnings` names them, with the closest known name when one is near (``keepalive``).
Response models keep unknown fields too (``model_extra``), so new API fields never break a parse. Session
status is an open string (the API has added values twice): unknown values parse and count as not
terminal.

The session lifetime is ``session_timeout`` in Python (``timeout`` collides with Airflow's own argument)
and ``timeout`` on the wire, in seconds.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from airflow_provider_browserbase.exceptions import BrowserbaseValidationError

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

# ---------------------------------------------------------------------------------------------------------
# Enumerations and status helpers
# ---------------------------------------------------------------------------------------------------------

#: The regions this provider knows; any other non-empty region is sent too, with a warning (new regions
#: open more often than this provider is released).
REGIONS: tuple[str, ...] = ("us-west-2", "us-east-1", "eu-central-1", "ap-southeast-1")
OperatingSystem = Literal["windows", "mac", "linux", "mobile", "tablet"]

MIN_SESSION_TIMEOUT = 60
MAX_SESSION_TIMEOUT = 21600
MAX_USER_METADATA_CHARS = 512


class SessionStatus:
    """Known session statuses. Status values are plain strings: the API may add more."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    ERROR = "ERROR"
    TIMED_OUT = "TIMED_OUT"
    COMPLETED = "COMPLETED"

    KNOWN: frozenset[str] = frozenset({PENDING, RUNNING, ERROR, TIMED_OUT, COMPLETED})
    TERMINAL: frozenset[str] = frozenset({COMPLETED, ERROR, TIMED_OUT})
    FAILED: frozenset[str] = frozenset({ERROR, TIMED_OUT})

    @classmethod
    def is_terminal(cls, status: str | None) -> bool:
        return status in cls.TERMINAL

    @classmethod
    def is_failed(cls, status: str | None) -> bool:
        return status in cls.FAILED


def is_terminal(status: str | None) -> bool:
    """Whether a session in ``status`` has ended (COMPLETED, ERROR or TIMED_OUT)."""
    return SessionStatus.is_terminal(status)


# ---------------------------------------------------------------------------------------------------------
# Base classes
# ---------------------------------------------------------------------------------------------------------


# Every model is built lazily (``defer_build``): building all of them when this module is imported took
# 15 ms of the 25 ms it cost, and DAG files import it through the operators at every parse (measured with
# ``python -m benchmarks --only import``). ``build_models()`` builds them all at once, under a lock, before
# a hook or the local server first uses them: pydantic's on-demand build is not safe when two threads are
# the first to use a model at the same time.
_BUILD_LOCK = threading.Lock()
_built = False


def build_models() -> None:
    """Build every model of this module now; cheap after the first call, safe from several threads."""
    global _built
    if _built:
        return
    with _BUILD_LOCK:
        if _built:
            return
        for value in list(globals().values()):
            if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == __name__:
                value.model_rebuild()  # no-op for a model already complete
        _built = True


class _RequestModel(BaseModel):
    """A request body: unknown fields are an error, so typos are caught before any request."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        validate_assignment=True,
        defer_build=True,
    )

    def to_api(self) -> dict[str, Any]:
        """The JSON body to send: camelCase names, unset fields left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class _SettingsModel(_RequestModel):
    """Session settings: known fields validated, unknown ones kept (``model_extra``) and sent unchanged."""

    model_config = ConfigDict(extra="allow")


class _ResponseModel(BaseModel):
    """
    A response body: unknown fields are kept (``model_extra``), missing optional fields read as ``None``.

    A field Browserbase's official SDK marks required is either required here too, or ``None`` when
    absent, never a made-up value that looks real (an absent usage read as ``0``, an absent signing key
    as ``""``). The ones kept optional are those a tolerant status poll or an older server may lack
    (dates, ``region``, ``keepAlive``); ``tests/contract/`` checks every model against the SDK's types.
    """

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="allow", defer_build=True
    )


def _lenient_datetime(value: Any) -> Any:
    """Parse what can be parsed as a date-time; anything else reads as ``None`` instead of failing."""
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if isinstance(value, (int, float)):
        return value  # epoch values: let pydantic interpret them
    return None


LenientDatetime = Annotated[datetime | None, BeforeValidator(_lenient_datetime)]


# ---------------------------------------------------------------------------------------------------------
# Session create parameters
# ---------------------------------------------------------------------------------------------------------


class Viewport(_SettingsModel):
    width: int | None = Field(default=None, gt=0, le=10000)
    height: int | None = Field(default=None, gt=0, le=10000)


class SessionContextSettings(_SettingsModel):
    """``browserSettings.context``: a saved browser state, written back at session end if ``persist``."""

    id: str = Field(min_length=1)
    persist: bool | None = None


class BrowserSettings(_SettingsModel):
    context: SessionContextSettings | None = None
    viewport: Viewport | None = None
    extension_id: str | None = None
    block_ads: bool | None = None
    solve_captchas: bool | None = None
    captcha_image_selector: str | None = None
    captcha_input_selector: str | None = None
    record_session: bool | None = None
    log_session: bool | None = None
    advanced_stealth: bool | None = None
    verified: bool | None = None
    os: OperatingSystem | None = None
    ignore_certificate_errors: bool | None = None
    allowed_domains: list[str] | None = None
    # Removed from the SDK in 1.5, still sent by some clients; accepted and passed through.
    fingerprint: dict[str, Any] | None = None


class Geolocation(_SettingsModel):
    country: str = Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2 code")
    city: str | None = None
    state: str | None = Field(default=None, min_length=2, max_length=2, description="US state code")

    @model_validator(mode="after")
    def _state_needs_us(self) -> Geolocation:
        if self.state is not None and self.country.upper() != "US":
            raise ValueError("state is only allowed with country 'US'")
        return self


class BrowserbaseProxy(_SettingsModel):
    """A proxy managed by Browserbase."""

    type: Literal["browserbase"]
    domain_pattern: str | None = None
    geolocation: Geolocation | None = None


class ExternalProxy(_SettingsModel):
    """Your own proxy server. The password is a secret: it never appears in a repr or a log."""

    type: Literal["external"]
    server: str = Field(min_length=1)
    domain_pattern: str | None = None
    username: str | None = None
    password: SecretStr | None = None

    @field_serializer("password", when_used="json")
    def _reveal_password_on_the_wire(self, value: SecretStr | None) -> str | None:
        return value.get_secret_value() if value is not None else None


class NoProxy(_SettingsModel):
    """Direct connection (no proxy) for the domains matching ``domain_pattern``."""

    type: Literal["none"]
    domain_pattern: str | None = None


Proxy = Annotated[BrowserbaseProxy | ExternalProxy | NoProxy, Field(discriminator="type")]


class ProxySettings(_SettingsModel):
    ca_certificates: list[str] | None = None


def _check_metadata_value(value: Any, path: str) -> None:
    if isinstance(value, (list, tuple, set)):
        raise ValueError(f"arrays are not allowed (at {path})")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"keys must be strings (at {path})")
            _check_metadata_value(item, f"{path}.{key}")
    elif not (value is None or isinstance(value, (str, int, float, bool))):
        raise ValueError(f"values must be JSON strings, numbers, booleans, null or objects (at {path})")


def user_metadata_size(metadata: Mapping[str, Any]) -> int:
    """Length of the metadata as the API counts it: compact JSON."""
    return len(json.dumps(metadata, separators=(",", ":"), ensure_ascii=False))


class SessionCreateParams(_SettingsModel):
    """
    Body of ``POST /v1/sessions``.

    ``session_timeout`` (wire ``timeout``) is in seconds, 60–21600. ``user_metadata`` must serialize to at
    most 512 characters of JSON with no arrays; only string values can be queried later.
    """

    project_id: str | None = None
    browser_settings: BrowserSettings | None = None
    extension_id: str | None = None
    keep_alive: bool | None = None
    proxies: bool | list[Proxy] | None = None
    proxy_settings: ProxySettings | None = None
    region: str | None = None
    session_timeout: int | None = Field(
        default=None,
        validation_alias=AliasChoices("session_timeout", "timeout", "sessionTimeout"),
        serialization_alias="timeout",
    )
    user_metadata: dict[str, Any] | None = None

    @field_validator("session_timeout", mode="before")
    @classmethod
    def _timeout_in_seconds(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError("must be a whole number of seconds")
        try:
            number = float(value)
        except ValueError:
            raise ValueError("must be a whole number of seconds") from None
        if number != int(number):
            raise ValueError("must be a whole number of seconds")
        if not MIN_SESSION_TIMEOUT <= number <= MAX_SESSION_TIMEOUT:
            hint = " (it is in seconds, not milliseconds)" if number > MAX_SESSION_TIMEOUT else ""
            raise ValueError(
                f"must be between {MIN_SESSION_TIMEOUT} and {MAX_SESSION_TIMEOUT} seconds, got {value}{hint}"
            )
        return int(number)

    @field_validator("region", mode="before")
    @classmethod
    def _region_named(cls, value: Any) -> Any:
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ValueError("must be a non-empty string such as 'us-west-2'")
        return value.strip() if isinstance(value, str) else value

    @field_validator("proxies", mode="before")
    @classmethod
    def _proxies_shape(cls, value: Any) -> Any:
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, Mapping):
            raise ValueError("must be true, false or a list of proxy objects (got a single object)")
        if not isinstance(value, (list, tuple)):
            raise ValueError("must be true, false or a list of proxy objects")
        for index, item in enumerate(value):
            kind = item.get("type") if isinstance(item, Mapping) else getattr(item, "type", None)
            if kind not in ("browserbase", "external", "none"):
                raise ValueError(
                    f"item {index}: 'type' must be one of 'browserbase', 'external', 'none', got {kind!r}"
                )
        return list(value)

    @field_validator("user_metadata", mode="before")
    @classmethod
    def _metadata_rules(cls, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise ValueError("must be a JSON object")
        _check_metadata_value(value, "user_metadata")
        try:
            size = user_metadata_size(value)
        except (TypeError, ValueError) as err:
            raise ValueError(f"must be JSON-serializable ({err})") from None
        if size > MAX_USER_METADATA_CHARS:
            raise ValueError(
                f"must serialize to at most {MAX_USER_METADATA_CHARS} characters of JSON, got {size}"
            )
        return dict(value)


class SessionUpdateParams(_RequestModel):
    """Body of ``POST /v1/sessions/{id}``: the only supported update is a release request."""

    status: Literal["REQUEST_RELEASE"] = "REQUEST_RELEASE"
    project_id: str | None = None


class ContextCreateParams(_RequestModel):
    project_id: str | None = None
    name: str | None = Field(default=None, min_length=1, max_length=256)


FetchFormat = Literal["raw", "json", "markdown"]
MIN_SEARCH_RESULTS = 1
MAX_SEARCH_RESULTS = 25


class FetchParams(_RequestModel):
    """
    Body of ``POST /v1/fetch``: one page, fetched without a browser session.

    ``json_schema`` is ``schema`` on the wire (a field named ``schema`` would shadow pydantic's method).
    """

    url: str
    format: FetchFormat | None = None
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    allow_redirects: bool | None = None
    allow_insecure_ssl: bool | None = None
    proxies: bool | None = None
    context_id: str | None = Field(default=None, min_length=1)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        try:
            parts = urlsplit(value)
        except ValueError:
            raise ValueError("must be an http or https URL") from None
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http or https URL with a host")
        return value

    def schema_errors(self) -> list[tuple[str, str]]:
        """
        ``(field, rule)`` pairs for a ``format``/``schema`` mismatch (a validator could not name the field).

        Browserbase extracts JSON with a model that needs the schema, and ignores a schema otherwise: both
        mistakes are caught before the request rather than discovered in the answer.
        """
        if self.format == "json" and not self.json_schema:
            return [("schema", "is required with format 'json' (a JSON Schema object)")]
        if self.json_schema is not None and self.format != "json":
            return [("schema", "is only used with format 'json'")]
        return []


class SearchParams(_RequestModel):
    """Body of ``POST /v1/search``; ``provider`` and ``mode`` are Browserbase's, left to its default."""

    query: str = Field(min_length=1)
    num_results: int | None = Field(default=None, ge=MIN_SEARCH_RESULTS, le=MAX_SEARCH_RESULTS)
    provider: str | None = None
    mode: str | None = None

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


# ---------------------------------------------------------------------------------------------------------
# Responses
# ---------------------------------------------------------------------------------------------------------


class Session(_ResponseModel):
    """A session as the API returns it from list, retrieve and update."""

    id: str
    status: str
    created_at: LenientDatetime = None
    updated_at: LenientDatetime = None
    started_at: LenientDatetime = None
    ended_at: LenientDatetime = None
    expires_at: LenientDatetime = None
    project_id: str | None = None
    proxy_bytes: int | None = None
    keep_alive: bool | None = None
    region: str | None = None
    context_id: str | None = None
    user_metadata: dict[str, Any] | None = None
    avg_cpu_usage: float | None = None
    memory_usage: float | None = None

    @property
    def is_terminal(self) -> bool:
        return is_terminal(self.status)

    @property
    def is_failed(self) -> bool:
        return SessionStatus.is_failed(self.status)


# A signing key shorter than this is not trusted to be masked on its own (Airflow skips short secrets).
_MIN_MASKABLE_KEY = 16


@functools.cache
def _masker_min_length() -> int:
    """
    Airflow's ``[logging] min_length_masked_secret``: shorter secrets are silently not masked.

    Read once per process, as Airflow itself does when it sets up its maskers (a config read costs
    0.2 ms, a third of the hook's own time per create).
    """
    try:
        from airflow.providers.common.compat.sdk import conf

        return conf.getint("logging", "min_length_masked_secret", fallback=5)
    except Exception:  # no usable Airflow configuration: Airflow's default
        return 5


def session_secrets(session: Session) -> tuple[str, ...]:
    """
    The strings to register with a log masker so that ``session``'s credentials never print.

    The signing key is the credential. A URL that carries it verbatim is covered by masking the key alone:
    it prints as ``wss://host/?signingKey=***``, which says where the session lives without granting it.
    A connect URL that does not carry the key verbatim (encoded, or a key too short to trust) is masked
    whole. The Selenium URL is not a credential (Browserbase sends the key in a header beside it).

    As few strings as possible, on purpose: Airflow's secrets masker recompiles one regex over every secret
    registered in the process for each new one (and so does the task supervisor's), so each extra string
    per session makes a process that creates n sessions pay more of an O(n²) cost. Registering the
    connect URL *and* the key was 10x slower per session than the key alone at 50 sessions (measure:
    ``python -m benchmarks --only api``).
    """
    key = getattr(session, "signing_key", None) or ""
    found = [key] if key else []
    url = getattr(session, "connect_url", None)
    if url and not (len(key) >= max(_MIN_MASKABLE_KEY, _masker_min_length()) and key in url):
        found.append(url)
    return tuple(found)


# Query parameters whose value is a capability: a URL that carries one verbatim is covered by masking it.
_CAPABILITY_PARAMETERS = frozenset({"token", "signingKey"})


def _capabilities(url: str, depth: int = 0) -> list[str]:
    found: list[str] = []
    for name, value in parse_qsl(urlsplit(url).query, keep_blank_values=False):
        if name in _CAPABILITY_PARAMETERS:
            found.append(value)
        elif "?" in value and depth < 2:  # a URL inside a parameter (the DevTools frontend's ``ws=``)
            found += _capabilities(value, depth + 1)
    return found


def live_url_secrets(urls: Iterable[str | None]) -> tuple[str, ...]:
    """
    The strings to register with a log masker so that live-view URLs never print usably.

    The same rule as :func:`session_secrets`: a URL that carries its capability (a ``token`` or
    ``signingKey`` parameter, browserbase-local's live-view token) verbatim is covered by masking that
    value alone, and prints as ``.../live?token=***``; one token serves every URL of a session, so a
    session adds one secret to the masker instead of one per URL (each new secret recompiles the masker's
    regex over all of them). A URL without one verbatim (Browserbase's own debugger URLs, where the URL
    itself is the capability) is masked whole.
    """
    minimum = max(_MIN_MASKABLE_KEY, _masker_min_length())
    found: dict[str, None] = {}
    for url in urls:
        if not url:
            continue
        tokens = [t for t in _capabilities(url) if len(t) >= minimum and t in url]
        for secret in tokens or [url]:
            found[secret] = None
    return tuple(found)


class SessionDetails(Session):
    """``GET /v1/sessions/{id}``: a session plus, while it lives, its (secret) connection details."""

    connect_url: str | None = Field(default=None, repr=False)
    selenium_remote_url: str | None = Field(default=None, repr=False)
    signing_key: str | None = Field(default=None, repr=False)


class CreatedSession(Session):
    """``POST /v1/sessions``: the new session and its credentials (connect URL and signing key)."""

    connect_url: str = Field(repr=False)
    selenium_remote_url: str = Field(repr=False)
    signing_key: str = Field(repr=False)


class LivePage(_ResponseModel):
    id: str
    url: str | None = None
    title: str | None = None
    favicon_url: str | None = None
    debugger_url: str | None = Field(default=None, repr=False)
    debugger_fullscreen_url: str | None = Field(default=None, repr=False)


class SessionLiveURLs(_ResponseModel):
    """``GET /v1/sessions/{id}/debug``. These URLs give interactive control: treat them as secrets."""

    debugger_fullscreen_url: str | None = Field(default=None, repr=False)
    debugger_url: str | None = Field(default=None, repr=False)
    ws_url: str | None = Field(default=None, repr=False)
    pages: list[LivePage]


class SessionLogRequest(_ResponseModel):
    """The CDP command of a log entry (``timestamp`` in ms since the epoch)."""

    params: dict[str, Any] | None = None
    raw_body: str | None = None
    timestamp: int | None = None


class SessionLogResponse(_ResponseModel):
    """The CDP answer of a log entry (``timestamp`` in ms since the epoch)."""

    result: dict[str, Any] | None = None
    raw_body: str | None = None
    timestamp: int | None = None


class SessionLog(_ResponseModel):
    """One CDP command of a session and its answer. Fields read ``None`` when absent: a log reader should
    not fail a whole log over one odd entry."""

    method: str | None = None
    page_id: int | None = None
    session_id: str | None = None
    frame_id: str | None = None
    loader_id: str | None = None
    timestamp: int | None = None
    request: SessionLogRequest | None = None
    response: SessionLogResponse | None = None


class SessionRecordingEvent(_ResponseModel):
    """An rrweb event (``type`` is rrweb's EventType, ``timestamp`` in ms since the epoch)."""

    data: dict[str, Any] | None = None
    session_id: str | None = None
    timestamp: int | None = None
    type: int | None = None


class UploadResult(_ResponseModel):
    message: str


class CreatedContext(_ResponseModel):
    id: str
    upload_url: str | None = Field(default=None, repr=False)
    public_key: str | None = Field(default=None, repr=False)
    cipher_algorithm: str | None = None
    initialization_vector_size: int | None = None


class Context(_ResponseModel):
    id: str
    created_at: LenientDatetime = None
    updated_at: LenientDatetime = None
    project_id: str | None = None
    name: str | None = None


class Extension(_ResponseModel):
    id: str
    file_name: str | None = None
    project_id: str | None = None
    created_at: LenientDatetime = None
    updated_at: LenientDatetime = None


class Project(_ResponseModel):
    id: str
    name: str | None = None
    owner_id: str | None = None
    default_timeout: int | None = None
    concurrency: int | None = None
    created_at: LenientDatetime = None
    updated_at: LenientDatetime = None


class ProjectUsage(_ResponseModel):
    browser_minutes: int
    proxy_bytes: int


class FetchResult(_ResponseModel):
    """
    ``POST /v1/fetch``: the fetched page. ``status_code`` is the page's own status: a 404 page is a
    successful fetch. ``content`` is text for ``raw`` and ``markdown``, an object for ``json``.
    """

    id: str
    content: str | dict[str, Any]
    content_type: str
    encoding: str
    headers: dict[str, str]
    status_code: int


class SearchResult(_ResponseModel):
    id: str
    title: str
    url: str
    author: str | None = None
    favicon: str | None = None
    image: str | None = None
    published_date: LenientDatetime = None


class SearchResults(_ResponseModel):
    """``POST /v1/search``: the query as run, the request's id and the results, best first."""

    query: str
    request_id: str
    results: list[SearchResult]


class RecordingDownload(_ResponseModel):
    """
    One recorded page's MP4 (``recording/downloads``). ``status`` is read as any string: known values are
    ``NOT_REQUESTED``, ``PENDING``, ``COMPLETED`` and ``FAILED`` (POST again to retry). ``download_url`` is
    a short-lived signed URL, present once ``COMPLETED`` (not on BYOS projects): it is a credential.
    """

    page_id: str
    status: str
    completed_at: LenientDatetime = None
    download_url: str | None = Field(default=None, repr=False)

    COMPLETED: ClassVar[str] = "COMPLETED"
    FAILED: ClassVar[str] = "FAILED"

    @property
    def is_completed(self) -> bool:
        return self.status == self.COMPLETED

    @property
    def is_failed(self) -> bool:
        return self.status == self.FAILED


class RecordingDownloads(_ResponseModel):
    """``POST`` and ``GET /v1/sessions/{id}/recording/downloads``: one entry per recorded page."""

    downloads: list[RecordingDownload]


class ReplayPage(_ResponseModel):
    """A recorded page: ``url`` is its HLS playlist; times are epoch milliseconds."""

    page_id: str
    start_time_ms: int
    end_time_ms: int
    url: str


class SessionReplays(_ResponseModel):
    """``GET /v1/sessions/{id}/replays``: the recorded pages (tabs) of a session."""

    page_count: int
    pages: list[ReplayPage]


# ---------------------------------------------------------------------------------------------------------
# Validation with errors that name the field
# ---------------------------------------------------------------------------------------------------------

_NOISE_LOC = re.compile(r"\[|^(bool|list|str|int|dict)$")


def _field_path(error: ErrorDetails) -> str:
    parts: list[str] = []
    for part in error["loc"]:
        if isinstance(part, int):
            parts.append(f"[{part}]")
            continue
        if _NOISE_LOC.search(part):
            continue
        if part in ("browserbase", "external", "none") and parts and parts[-1].startswith("["):
            continue  # the tag of a discriminated union, not a field
        parts.append(("." if parts else "") + part)
    return "".join(parts) or "(body)"


def _rule(error: ErrorDetails) -> str:
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        return "unknown field"
    return message.removeprefix("Value error, ")


def validation_errors(exc: ValidationError) -> list[tuple[str, str]]:
    """``(field path, rule)`` pairs from a pydantic error, one per distinct field."""
    errors = exc.errors(include_url=False)
    seen: dict[str, str] = {}
    for error in errors:
        loc = error["loc"]
        if loc and loc[-1] == "bool" and any(e["loc"][:1] == loc[:1] and e is not error for e in errors):
            continue  # the "true/false" branch of a union whose other branch has the useful error
        path = _field_path(error)
        seen.setdefault(path, _rule(error))
    return list(seen.items())


def _known_names(model: type[BaseModel]) -> set[str]:
    names: set[str] = set()
    for name, info in model.model_fields.items():
        names.add(name)
        if info.alias:
            names.add(info.alias)
        if isinstance(info.validation_alias, AliasChoices):
            names.update(c for c in info.validation_alias.choices if isinstance(c, str))
        elif isinstance(info.validation_alias, str):
            names.add(info.validation_alias)
    return names


def _normalized(name: str) -> str:
    return name.replace("_", "").lower()


def closest_known_name(model: type[BaseModel], key: str) -> str | None:
    """
    The known field name ``key`` most likely meant, or ``None``.

    A name equal but for case and underscores (``keepalive``) gets the known spelling in the same style
    (camelCase unless ``key`` has an underscore); otherwise the nearest name by spelling, if close.
    """
    known = sorted(_known_names(model))
    same = [name for name in known if _normalized(name) == _normalized(key) and name != key]
    if same:
        styled = [name for name in same if ("_" in name) == ("_" in key)]
        return (styled or same)[0]
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.8)
    return close[0] if close else None


def _unknown_fields(params: BaseModel, path: str = "") -> list[str]:
    """Every field of ``params`` (recursively) that its model does not know, as ``path (hint)`` texts."""
    found: list[str] = []
    for key in params.model_extra or {}:
        hint = closest_known_name(type(params), key)
        found.append(f"{path}{key}" + (f" (did you mean {hint!r}?)" if hint else ""))
    for name in type(params).model_fields:
        value = getattr(params, name)
        items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
        for index, item in items:
            if isinstance(item, _SettingsModel):
                where = f"{path}{name}" + (f"[{index}]" if index is not None else "")
                found += _unknown_fields(item, f"{where}.")
    return found


def settings_warnings(params: SessionCreateParams) -> list[str]:
    """
    What to warn about in settings that are sent anyway: unknown fields (with the closest known name when
    one is near, for a casing typo such as ``keepalive``) and a region this provider does not know.
    """
    notes = []
    unknown = _unknown_fields(params)
    if unknown:
        notes.append(
            "fields this provider version does not know are sent to the API unchanged: " + ", ".join(unknown)
        )
    if params.region is not None and params.region not in REGIONS:
        notes.append(
            f"region {params.region!r} is not one of the regions this provider version knows "
            f"({', '.join(REGIONS)}); it is sent unchanged"
        )
    return notes


def validate_session_settings(settings: Mapping[str, Any] | SessionCreateParams) -> SessionCreateParams:
    """
    Validate session settings given as snake_case or camelCase names.

    Known fields are checked (type, range); unknown ones are kept as given, to be sent unchanged (see
    :func:`settings_warnings`).

    :raises BrowserbaseValidationError: naming each bad field and its rule, before any request.
    """
    if isinstance(settings, SessionCreateParams):
        return settings
    if not isinstance(settings, Mapping):
        raise BrowserbaseValidationError(
            [("(settings)", f"must be a mapping of setting names to values, got {type(settings).__name__}")],
            "session settings",
        )
    try:
        return SessionCreateParams.model_validate(dict(settings))
    except ValidationError as exc:
        raise BrowserbaseValidationError(validation_errors(exc), "session settings") from None


def drop_unknown_fields(model: type[BaseModel], data: Any) -> Any:
    """
    Remove keys a request model does not know, recursively (for servers that must ignore them).

    The local server uses this to accept bodies with fields this project does not model.
    """
    if not isinstance(data, Mapping):
        return data
    known = _known_names(model)
    cleaned: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            continue
        field = _field_for(model, key)
        nested = _nested_model(field.annotation) if field is not None else None
        cleaned[key] = drop_unknown_fields(nested, value) if nested is not None else value
    return cleaned


def _field_for(model: type[BaseModel], key: str) -> Any:
    for name, info in model.model_fields.items():
        if key == name or key == info.alias:
            return info
        if isinstance(info.validation_alias, AliasChoices) and key in info.validation_alias.choices:
            return info
    return None


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    args = getattr(annotation, "__args__", None) or (annotation,)
    for arg in args:
        if isinstance(arg, type) and issubclass(arg, _RequestModel):
            return arg
    return None


# ---------------------------------------------------------------------------------------------------------
# The user-metadata query language of ``GET /v1/sessions?q=``
# ---------------------------------------------------------------------------------------------------------

_QUERY_TERM = re.compile(r"user_metadata((?:\['(?:[^'\\]|\\.)*'\])+):'((?:[^'\\]|\\.)*)'")
_QUERY_KEY = re.compile(r"\['((?:[^'\\]|\\.)*)'\]")
QUERY_TERM_SEPARATOR = " AND "


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _flatten(metadata: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    terms: list[tuple[tuple[str, ...], str]] = []
    for key, value in metadata.items():
        path = (*prefix, str(key))
        if isinstance(value, Mapping):
            terms.extend(_flatten(value, path))
        elif isinstance(value, (list, tuple, set)):
            raise BrowserbaseValidationError([(".".join(path), "arrays cannot be queried")], "metadata query")
        elif isinstance(value, bool):
            terms.append((path, "true" if value else "false"))
        else:
            # The API matches string values only: store numbers and booleans as strings to find them.
            terms.append((path, str(value)))
    return terms


def build_metadata_query(metadata: Mapping[str, Any]) -> str:
    """
    Build the ``q`` parameter matching sessions whose ``userMetadata`` holds every leaf of ``metadata``.

    ``{"airflow": {"dag_id": "etl"}}`` -> ``user_metadata['airflow']['dag_id']:'etl'``. Several leaves are
    joined with `` AND `` (the documented syntax shows one term; the conjunction is this project's choice).
    """
    terms = _flatten(metadata)
    if not terms:
        raise BrowserbaseValidationError([("metadata", "must contain at least one value")], "metadata query")
    return QUERY_TERM_SEPARATOR.join(
        "user_metadata" + "".join(f"['{_quote(k)}']" for k in path) + f":'{_quote(value)}'"
        for path, value in terms
    )


def parse_metadata_query(query: str) -> list[tuple[tuple[str, ...], str]]:
    """
    Parse a ``q`` parameter into ``(path, value)`` terms; the inverse of :func:`build_metadata_query`.

    :raises ValueError: if the query is not in the documented syntax.
    """
    terms: list[tuple[tuple[str, ...], str]] = []
    position = 0
    text = query.strip()
    while True:
        match = _QUERY_TERM.match(text, position)
        if not match:
            raise ValueError(
                "q must look like user_metadata['key']['nested']:'value' "
                f"(terms joined with '{QUERY_TERM_SEPARATOR.strip()}')"
            )
        path = tuple(_unquote(k) for k in _QUERY_KEY.findall(match.group(1)))
        terms.append((path, _unquote(match.group(2))))
        position = match.end()
        if position == len(text):
            return terms
        rest = text[position:]
        separator = re.match(r"\s+AND\s+", rest, flags=re.IGNORECASE)
        if not separator:
            raise ValueError(f"unexpected text in q after term {len(terms)}: {rest[:40]!r}")
        position += separator.end()


def metadata_matches(
    metadata: Mapping[str, Any] | None, terms: Iterable[tuple[tuple[str, ...], str]]
) -> bool:
    """Whether ``metadata`` satisfies every parsed query term (string equality)."""
    for path, expected in terms:
        node: Any = metadata or {}
        for key in path:
            if not isinstance(node, Mapping) or key not in node:
                return False
            node = node[key]
        if not isinstance(node, str) or node != expected:
            return False
    return True
