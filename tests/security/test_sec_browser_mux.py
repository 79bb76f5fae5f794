"""
The multiplexer over Chromium's pipe, on scripted messages: routing, ownership, what it strips, and the
bounded outbox of each client.
"""

from __future__ import annotations

import asyncio
import json

from airflow_provider_browserbase.local.cdp_mux import CdpChannel, CdpMux, Outbox


def _mux() -> tuple[CdpMux, list[str], dict[str, list[str | None]]]:
    written: list[str] = []
    mux = CdpMux(written.append)
    delivered: dict[str, list[str | None]] = {"A": [], "B": []}
    for name in delivered:
        channel = CdpChannel(mux, f"ROOT{name}", delivered[name].append)
        mux.owners[channel.root] = channel
    return mux, written, delivered


def test_answers_go_back_to_their_client_with_its_own_id_and_without_the_added_session() -> None:
    mux, written, delivered = _mux()
    a, b = mux.owners["ROOTA"], mux.owners["ROOTB"]
    assert a.send({"id": 1, "method": "Browser.getVersion"}) is None
    assert b.send({"id": 1, "method": "Browser.getVersion", "params": {}}) is None
    first, second = json.loads(written[0]), json.loads(written[1])
    assert (first["sessionId"], second["sessionId"]) == ("ROOTA", "ROOTB")
    assert first["id"] != second["id"]  # renumbered: both clients used id 1
    mux.feed(f'{{"id":{second["id"]},"result":{{"product":"b"}},"sessionId":"ROOTB"}}')
    mux.feed(f'{{"id":{first["id"]},"result":{{"product":"a"}},"sessionId":"ROOTA"}}')
    assert delivered["A"] == ['{"id":1,"result":{"product":"a"}}']
    assert delivered["B"] == ['{"id":1,"result":{"product":"b"}}']


def test_child_sessions_belong_to_the_client_that_attached_them() -> None:
    mux, _, delivered = _mux()
    a, b = mux.owners["ROOTA"], mux.owners["ROOTB"]
    mux.feed(
        '{"method":"Target.attachedToTarget","params":{"sessionId":"CHILD","targetInfo":{}},"sessionId":"ROOTA"}'
    )
    assert "CHILD" in a.owned
    assert (
        delivered["A"][-1]
        == '{"method":"Target.attachedToTarget","params":{"sessionId":"CHILD","targetInfo":{}}}'
    )
    mux.feed('{"method":"Runtime.consoleAPICalled","params":{},"sessionId":"CHILD"}')
    assert delivered["A"][-1] == '{"method":"Runtime.consoleAPICalled","params":{},"sessionId":"CHILD"}'
    assert delivered["B"] == []

    refused = b.send({"id": 9, "method": "Runtime.evaluate", "sessionId": "CHILD"})
    assert refused is not None
    assert json.loads(refused) == {
        "id": 9,
        "error": {"code": -32000, "message": "Session with given id not found: 'CHILD' is not yours"},
        "sessionId": "CHILD",
    }
    assert a.send({"id": 9, "method": "Runtime.evaluate", "sessionId": "CHILD"}) is None

    mux.feed('{"method":"Target.detachedFromTarget","params":{"sessionId":"CHILD"},"sessionId":"ROOTA"}')
    assert "CHILD" not in a.owned
    assert a.send({"id": 10, "method": "Runtime.evaluate", "sessionId": "CHILD"}) is not None


def test_messages_in_another_layout_are_parsed_and_routed_the_same_way() -> None:
    mux, _, delivered = _mux()
    mux.feed(json.dumps({"sessionId": "ROOTB", "params": {"x": 1}, "method": "Target.targetCreated"}))
    assert json.loads(delivered["B"][-1]) == {"method": "Target.targetCreated", "params": {"x": 1}}
    mux.feed('{"method":"Target.targetCreated","params":{},"sessionId":"UNKNOWN"}')  # dropped
    mux.feed("not json")
    assert delivered["A"] == []


def test_the_browser_going_away_tells_every_client() -> None:
    mux, _, delivered = _mux()
    mux.close()
    assert delivered == {"A": [None], "B": [None]}
    assert mux.owners == {}


def test_an_outbox_takes_one_large_message_but_no_backlog_past_its_limit() -> None:
    async def scenario() -> None:
        outbox = Outbox(limit=100)
        outbox.put("s" * 500)  # one answer larger than the limit: a big screenshot the client asked for
        assert await outbox.get() == "s" * 500
        for _ in range(10):
            outbox.put("e" * 10)  # 100 characters wait: at the limit, not past it
        assert (outbox.size, outbox.overflowed) == (100, False)
        outbox.put("e")
        assert outbox.overflowed
        assert outbox.size == 0  # the backlog is dropped at once
        outbox.put("later")  # nothing more is queued for a client about to be closed
        assert await outbox.get() is None
        assert outbox._queue.empty()

    asyncio.run(scenario())
