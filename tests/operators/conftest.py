from __future__ import annotations

from typing import TYPE_CHECKING, Any
from unittest import mock

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable


@pytest.fixture
def make_context() -> Callable[..., dict[str, Any]]:
    """A task context whose ``ti`` is a mock recording XCom pushes."""

    def make(**ti_fields: Any) -> dict[str, Any]:
        ti = mock.MagicMock()
        fields = {
            "dag_id": "dag",
            "task_id": "task",
            "run_id": "manual__2026",
            "try_number": 1,
            "map_index": -1,
        }
        fields.update(ti_fields)
        for name, value in fields.items():
            setattr(ti, name, value)
        return {"ti": ti, "params": {}, "dag_id": fields["dag_id"], "run_id": fields["run_id"]}

    return make
