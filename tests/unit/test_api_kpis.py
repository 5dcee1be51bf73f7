"""``GET /kpis`` serves the typed snapshot's JSON, whole or sliced, exactly as published."""

from __future__ import annotations

import json
from pathlib import Path

from streams.domain.snapshot import Snapshot
from streams.live import api

GOLDEN = Path(__file__).parent.parent / "golden" / "expected_snapshot.json"


def published() -> tuple[dict[str, object], Snapshot]:
    data = json.loads(GOLDEN.read_text())
    return data, Snapshot.from_json(data)


def test_the_whole_snapshot_is_served_as_published() -> None:
    data, snapshot = published()
    status, body = api.kpis(snapshot, None, None)
    assert status == 200
    assert json.dumps(body) == json.dumps(data)  # key order included


def test_a_window_and_a_dimension_are_slices_of_it() -> None:
    data, snapshot = published()
    windows = data["windows"]
    assert isinstance(windows, dict)
    status, body = api.kpis(snapshot, "1h", "team")
    assert status == 200
    one_hour = windows["1h"]
    expected = {"overall": one_hour["overall"], "by_team": one_hour["by_team"]}
    assert body == {"as_of": "2026-11-03T12:00:00Z", "windows": {"1h": expected}}
    status, body = api.kpis(snapshot, "24h", None)
    assert json.dumps(body) == json.dumps(
        {"as_of": data["as_of"], "windows": {"24h": windows["24h"]}}
    )
    status, body = api.kpis(snapshot, None, "agent")
    assert list(body["windows"]) == ["1h", "24h", "7d"]
    assert body["windows"]["7d"]["by_agent"] == windows["7d"]["by_agent"]


def test_unknown_windows_and_dimensions_and_no_snapshot() -> None:
    _, snapshot = published()
    assert api.kpis(snapshot, "2h", None)[0] == 400
    assert api.kpis(snapshot, None, "colour")[0] == 400
    assert api.kpis(None, None, None)[0] == 503
