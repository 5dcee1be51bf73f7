"""The mypyc build of the domain: chosen only for the sources it was made from.

Each case runs a fresh interpreter, since the choice is made once, when ``streams.domain`` is
first imported. In CI (``CI`` set) the build must be in use, so that the suite tests the code
users run; ``make test`` also runs the unit tests with ``TICKETPULSE_PURE_PYTHON=1``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from streams import native

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
AS_OF = "2026-11-03T12:00:00Z"  # as in test_golden

PROBE = """
import importlib, json, sys
from streams import native
for name in native.COMPILED:  # the worker imports them all
    importlib.import_module(name)
from streams.domain.instant import parse_rfc3339
from streams.domain.policies import load_policies
from streams.domain.snapshot import dumps_snapshot
from streams.replay import replay_lines
status = native.status()
with open(sys.argv[1], "rb") as lines:
    result = replay_lines(iter(lines), load_policies(sys.argv[2]), parse_rfc3339(sys.argv[3]))
print(json.dumps({"compiled": status.compiled, "reason": status.reason,
                  "modules": native.loaded_compiled(),
                  "snapshot": dumps_snapshot(result.snapshot)}))
"""


def probe(**env: str) -> dict[str, object]:
    environ = {k: v for k, v in os.environ.items() if k not in (native.PURE_ENV, native.DIR_ENV)}
    environ.update(env)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            PROBE,
            str(GOLDEN / "events.jsonl"),
            str(GOLDEN / "policies.yaml"),
            AS_OF,
        ],
        capture_output=True,
        text=True,
        env=environ,
        cwd=ROOT,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def has_build() -> bool:
    return native.group_library(native.build_path()) is not None


def test_pure_python_when_asked() -> None:
    result = probe(**{native.PURE_ENV: "1"})
    assert result["compiled"] is False
    assert result["modules"] == []
    assert native.PURE_ENV in str(result["reason"])


def test_a_build_of_other_sources_is_not_used(tmp_path: Path) -> None:
    # A build folder whose name is another fingerprint, as after editing a module: not used.
    if has_build():
        shutil.copytree(native.build_path(), tmp_path / ("0" * 20))
    else:
        (tmp_path / ("0" * 20) / "streams" / "domain").mkdir(parents=True)
    result = probe(**{native.DIR_ENV: str(tmp_path)})
    assert result["compiled"] is False
    assert result["modules"] == []
    assert "no build for these sources" in str(result["reason"])


def test_fingerprint_follows_every_compiled_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in native.COMPILED:
        copy = tmp_path.joinpath(native.source(name).relative_to(ROOT))
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(native.source(name), copy)
    monkeypatch.setattr(native, "_SOURCES", tmp_path)
    first = native.fingerprint()
    assert native.fingerprint() == first
    seen = {first}
    for name in native.COMPILED:
        source = native.source(name)
        text = source.read_bytes()
        source.write_bytes(text + b"\n")
        seen.add(native.fingerprint())
        source.write_bytes(text)
    assert len(seen) == len(native.COMPILED) + 1
    assert native.fingerprint() == first


@pytest.mark.skipif(
    not has_build() and not os.environ.get("CI"), reason="no mypyc build: run make setup"
)
def test_the_build_is_used_and_gives_the_same_snapshot() -> None:
    compiled = probe()
    assert compiled["compiled"] is True, compiled["reason"]
    assert compiled["modules"] == list(native.COMPILED)
    pure = probe(**{native.PURE_ENV: "1"})
    assert compiled["snapshot"] == pure["snapshot"]
    expected = json.loads((GOLDEN / "expected_snapshot.json").read_text())
    assert json.loads(str(compiled["snapshot"])) == expected
