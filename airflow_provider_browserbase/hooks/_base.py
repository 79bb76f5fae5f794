"""
The machinery under :class:`~airflow_provider_browserbase.hooks.browserbase.BrowserbaseHook`.

Connection, pooled clients, and the two drivers: each operation is written once, as a generator of steps
(see ``_transport``); :meth:`BrowserbaseHookBase._run` carries the steps out with an ``httpx.Client`` and
:meth:`BrowserbaseHookBase._arun` with an ``httpx.AsyncClient``, so sync methods and their async twins
share all their logic.
"""

from __future__ import annotations

import asyncio
import random
import time
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar, cast

import httpx
from airflow.providers.common.compat.sdk import BaseHook, mask_secret

from airflow_provider_browserbase import __version__
from airflow_provider_browserbase.exceptions import (
    BrowserbaseError,
)
from airflow_provider_browserbase.hooks._connection import (
    ConnectionSettings,
    CredentialsInHostError,
    project_id_from_extra,
    resolve_base_url,
)
from airflow_provider_browserbase.hooks._transport import (
    ApiCall,
    Outcome,
    Send,
    Sleep,
    Step,
    describe_outcome,
    is_retryable,
    json_body,
    outcome_error,
    retry_wait,
)
from airflow_provider_browserbase.models import build_models

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Generator, Mapping

    from airflow.providers.common.compat.sdk import Connection
    from typing_extensions import Self


T = TypeVar("T")

USER_AGENT = f"airflow-provider-browserbase/{__version__}"


async def _amask(secret: str) -> None:
    try:
        from airflow.sdk.log import amask_secret
    except ImportError:  # Airflow < 3.3.2: the sync call is the only one
        mask_secret(secret)
    else:
        await amask_secret(secret)


class BrowserbaseHookBase(BaseHook):
    """
    Connection, clients, drivers and retried requests; see ``BrowserbaseHook`` for the parameters.

    :param browserbase_conn_id: the ``browserbase`` connection id.
    """

    default_conn_name = "browserbase_default"

    def __init__(
        self,
        browserbase_conn_id: str = default_conn_name,
        *,
        api_timeout: float = 60.0,
        connect_timeout: float = 5.0,
        max_retries: int = 3,
        max_retry_wait: float = 60.0,
        rate_limit_wait: float = 120.0,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__()
        build_models()  # before any thread of this process validates an answer
        self.browserbase_conn_id = browserbase_conn_id
        self.api_timeout = api_timeout
        self.connect_timeout = connect_timeout
        self.max_retries = max(0, max_retries)
        self.max_retry_wait = max_retry_wait
        self.rate_limit_wait = rate_limit_wait
        self._transport = transport
        self._async_transport = async_transport
        self._client: httpx.Client | None = None
        self._aclient: httpx.AsyncClient | None = None
        self._aclient_loop: asyncio.AbstractEventLoop | None = None
        # Injectable so tests can check waits without waiting.
        self._sleep: Callable[[float], None] = time.sleep
        self._asleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        self._clock: Callable[[], float] = time.monotonic
        self._random: Callable[[], float] = random.random
        # Session id -> create nonce, for sessions created by a re-sent create after an ambiguous failure:
        # the first create may still produce a session under the same nonce, which ending this one sweeps.
        self._ambiguous_nonces: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(browserbase_conn_id={self.browserbase_conn_id!r})"

    # -----------------------------------------------------------------------------------------------------
    # Connection and clients
    # -----------------------------------------------------------------------------------------------------

    def _settings_from(self, conn: Connection, extra: Mapping[str, Any]) -> ConnectionSettings:
        api_key = (conn.password or "").strip()
        if not api_key:
            raise BrowserbaseError(
                f"Browserbase connection {self.browserbase_conn_id!r} has no API key: "
                "set it in the connection's password field ('API Key')"
            )
        mask_secret(api_key)
        try:
            base_url = resolve_base_url(conn.host, conn.port)
        except CredentialsInHostError as err:
            raise BrowserbaseError(f"Browserbase connection {self.browserbase_conn_id!r}: {err}") from None
        return ConnectionSettings(
            conn_id=self.browserbase_conn_id,
            base_url=base_url,
            api_key=api_key,
            project_id=project_id_from_extra(dict(extra)),
        )

    @cached_property
    def conn_settings(self) -> ConnectionSettings:
        """The connection's base URL, API key and project, read once (sync code only)."""
        conn = self.get_connection(self.browserbase_conn_id)
        return self._settings_from(conn, conn.extra_dejson)

    async def aget_conn_settings(self) -> ConnectionSettings:
        """:attr:`conn_settings` for async code: never calls the sync ``get_connection`` on the loop."""
        if "conn_settings" not in self.__dict__:
            from airflow.providers.common.compat.connection import (
                get_async_connection,
                get_async_extra_dejson,
            )

            conn = await get_async_connection(self.browserbase_conn_id, hook=self)
            extra = await get_async_extra_dejson(conn)
            self.__dict__["conn_settings"] = self._settings_from(conn, extra)
        return cast("ConnectionSettings", self.__dict__["conn_settings"])

    @property
    def base_url(self) -> str:
        return self.conn_settings.base_url

    @property
    def project_id(self) -> str | None:
        return self.conn_settings.project_id

    def _client_options(self, settings: ConnectionSettings) -> dict[str, Any]:
        return {
            "base_url": settings.base_url,
            "headers": {
                "X-BB-API-Key": settings.api_key,
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            },
            "timeout": httpx.Timeout(self.api_timeout, connect=self.connect_timeout),
        }

    def get_conn(self) -> httpx.Client:
        """The hook's pooled sync client, created on first use."""
        if self._client is None:
            self._client = httpx.Client(transport=self._transport, **self._client_options(self.conn_settings))
        return self._client

    async def aget_conn(self) -> httpx.AsyncClient:
        """The hook's pooled async client for the running event loop, created on first use."""
        loop = asyncio.get_running_loop()
        if self._aclient is None or self._aclient_loop is not loop:
            # A client is bound to the loop it first ran on; a new loop (a new asyncio.run) needs its own.
            settings = await self.aget_conn_settings()
            self._aclient = httpx.AsyncClient(
                transport=self._async_transport, **self._client_options(settings)
            )
            self._aclient_loop = loop
        return self._aclient

    def close(self) -> None:
        """Close the sync client (the async one is closed by :meth:`aclose`)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        """Close both clients."""
        self.close()
        if self._aclient is not None:
            client, self._aclient, self._aclient_loop = self._aclient, None, None
            await client.aclose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -----------------------------------------------------------------------------------------------------
    # Drivers: carry out the steps of an operation
    # -----------------------------------------------------------------------------------------------------

    def _run(self, flow: Generator[Step, Any, T]) -> T:
        client = self.get_conn()
        result: Any = None
        while True:
            try:
                step = flow.send(result)
            except StopIteration as stop:
                return cast("T", stop.value)
            result = None
            if isinstance(step, Send):
                try:
                    result = Outcome(
                        response=client.request(
                            step.call.method, step.call.path, **step.call.request_kwargs()
                        )
                    )
                except httpx.TransportError as error:
                    result = Outcome(error=error)
            elif isinstance(step, Sleep):
                self._sleep(step.seconds)
            else:
                for secret in step.secrets:
                    mask_secret(secret)

    async def _arun(self, flow: Generator[Step, Any, T]) -> T:
        client = await self.aget_conn()
        result: Any = None
        while True:
            try:
                step = flow.send(result)
            except StopIteration as stop:
                return cast("T", stop.value)
            result = None
            if isinstance(step, Send):
                try:
                    result = Outcome(
                        response=await client.request(
                            step.call.method, step.call.path, **step.call.request_kwargs()
                        )
                    )
                except httpx.TransportError as error:
                    result = Outcome(error=error)
            elif isinstance(step, Sleep):
                await self._asleep(step.seconds)
            else:
                for secret in step.secrets:
                    await _amask(secret)

    # -----------------------------------------------------------------------------------------------------
    # Shared steps
    # -----------------------------------------------------------------------------------------------------

    def _request(self, call: ApiCall, max_retries: int | None = None) -> Generator[Step, Any, httpx.Response]:
        """Send ``call``, retrying what its retry mode allows; return the success response or raise."""
        limit = self.max_retries if max_retries is None else max_retries
        retries = 0
        while True:
            outcome: Outcome = yield Send(call)
            if outcome.ok:
                assert outcome.response is not None
                return outcome.response
            if retries < limit and is_retryable(call, outcome):
                yield from self._retry_pause(call, outcome, retries, limit)
                retries += 1
                continue
            raise outcome_error(call, outcome)

    def _retry_pause(
        self, call: ApiCall, outcome: Outcome, retries: int, limit: int
    ) -> Generator[Step, Any, None]:
        wait = retry_wait(outcome, retries, self.max_retry_wait, self._random)
        self.log.warning(
            "Browserbase %s got %s; retrying in %.2f s (retry %d of %d)",
            call.call,
            describe_outcome(outcome),
            wait,
            retries + 1,
            limit,
        )
        yield Sleep(wait)

    def _json(self, call: ApiCall, max_retries: int | None = None) -> Generator[Step, Any, Any]:
        response = yield from self._request(call, max_retries)
        return json_body(call, response)

    def _project_or_default(self, project_id: str | None) -> str | None:
        return project_id or self.conn_settings.project_id
