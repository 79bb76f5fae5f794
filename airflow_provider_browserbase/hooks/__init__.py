"""
The Browserbase hook, laid out by API resource.

- ``browserbase``: :class:`~airflow_provider_browserbase.hooks.browserbase.BrowserbaseHook`, the public
  face: the connection, the pooled clients, and one line per API call and its ``a``-prefixed async twin.
- One module per resource, each a set of plain functions: ``sessions`` (create, retrieve, list, release,
  live view), ``session_downloads``, ``session_uploads``, ``session_logs`` (logs and rrweb recording),
  ``recordings`` (the video: MP4 per page, replays),
  ``contexts``, ``extensions``, ``projects``. A function checks its arguments at once (a bad id or setting
  fails before any request) and returns an *operation*: a function of the call context giving the steps.
- ``_context``: the :class:`~airflow_provider_browserbase.hooks._context.CallContext` (connection settings,
  retry limits, clock, random source, logger), built by the hook before the first step (with
  ``get_connection`` for a sync call, ``aget_connection`` for an async one), and the steps every resource
  shares (``request``, ``read_json``, ``one``, ``many``, ``nothing``).
- ``_transport``: requests as data (``ApiCall``), the steps (``Send``, ``Sleep``, ``Mask``, ``Blocking``),
  the one retry policy and the error mapping; no I/O. ``_drivers``: the sync and the async driver that
  carry the steps out. ``_nonce``: finding what an ambiguous create produced. ``_downloads``: the one safe
  zip extractor. ``_connection``: base-URL rules and connection settings. ``connection_form``: the form.

Adding an endpoint (``GET /v1/sessions/{id}/replays`` was added this way, in ``recordings``):

1. a model in ``models.py`` for its answer (a ``_ResponseModel``: camelCase aliases, unknown fields kept;
   required where Browserbase's SDK requires the field), and its pair in
   ``tests/contract/test_models_match_sdk.py``;
2. one function in the resource's module that checks its arguments and returns the operation, usually
   one line over the shared steps::

       def get_replays(session_id: str) -> Operation[SessionReplays]:  # in recordings.py
           path = api_path("/v1/sessions/{}/replays", session_id, what="session_id")
           return one(ApiCall("get_replays", "GET", path, session_id=session_id), SessionReplays)

3. two one-line methods on ``BrowserbaseHook``::

       def get_replays(self, session_id: str) -> SessionReplays:
           return self._run(recordings.get_replays(session_id))

       async def aget_replays(self, session_id: str) -> SessionReplays:
           return await self._arun(recordings.get_replays(session_id))

4. tests: the request and its errors with ``httpx.MockTransport`` (``tests/hooks/``), and the endpoint in
   ``tests/contract/`` against the official SDK; a new resource gets its own module here.

An operation never reads the connection or sleeps by itself: it yields steps and uses what the context
gives, so the sync and async twins share every line, and an async call cannot block its event loop.
"""
