"""
The two drivers: carry out an operation's steps with ``httpx.Client`` and ``time.sleep``, or with
``httpx.AsyncClient`` and ``asyncio.sleep``. The client is asked for at the first request only, so an
operation that needs none (``session_url``) opens no connection.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, TypeVar, cast

import httpx

from airflow_provider_browserbase.hooks._transport import Blocking, Outcome, Send, Sleep, Step

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Generator

T = TypeVar("T")


def run_sync(
    flow: Generator[Step, Any, T],
    client: Callable[[], httpx.Client],
    sleep: Callable[[float], None],
    mask: Callable[[str], None],
) -> T:
    result: Any = None
    while True:
        try:
            step = flow.send(result)
        except StopIteration as stop:
            return cast("T", stop.value)
        result = None
        if isinstance(step, Send):
            try:
                call = step.call
                result = Outcome(response=client().request(call.method, call.path, **call.request_kwargs()))
            except httpx.TransportError as error:
                result = Outcome(error=error)
        elif isinstance(step, Sleep):
            sleep(step.seconds)
        elif isinstance(step, Blocking):
            result = step.work()
        else:
            for secret in step.secrets:
                mask(secret)


async def run_async(
    flow: Generator[Step, Any, T],
    client: Callable[[], Awaitable[httpx.AsyncClient]],
    sleep: Callable[[float], Awaitable[None]],
    mask: Callable[[str], Awaitable[None]],
) -> T:
    result: Any = None
    while True:
        try:
            step = flow.send(result)
        except StopIteration as stop:
            return cast("T", stop.value)
        result = None
        if isinstance(step, Send):
            try:
                call = step.call
                answer = await (await client()).request(call.method, call.path, **call.request_kwargs())
                result = Outcome(response=answer)
            except httpx.TransportError as error:
                result = Outcome(error=error)
        elif isinstance(step, Sleep):
            await sleep(step.seconds)
        elif isinstance(step, Blocking):
            result = await asyncio.to_thread(step.work)
        else:
            for secret in step.secrets:
                await mask(secret)
