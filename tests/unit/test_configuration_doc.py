"""Every worker setting is documented in docs/configuration.md, and nothing else is."""

from __future__ import annotations

import re
from pathlib import Path

from streams.live.settings import WorkerSettings

DOC = Path(__file__).parents[2] / "docs" / "configuration.md"


def test_every_setting_is_documented() -> None:
    documented = set(re.findall(r"^\| `TICKETPULSE_([A-Z_]+)`", DOC.read_text(), re.M))
    assert documented == {name.upper() for name in WorkerSettings.model_fields}
