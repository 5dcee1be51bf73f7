"""The hot modules compiled with mypyc, used when a build matches the sources.

The domain (and the live batch planner, pure too) is typed for ``mypy --strict``, so mypyc
can compile it to C extensions with the same behaviour (replay runs 1.3-1.5x faster,
``bench/bench_native.py``). The Python sources
stay the reference: a build is looked up by a fingerprint of exactly the sources it was made
from, so an edited module is never shadowed by a stale build; without a matching build, or
with ``TICKETPULSE_PURE_PYTHON=1``, the domain runs as plain Python. ``make setup`` builds
(``scripts/build_native.py``, about a minute) into ``build/native/<fingerprint>/`` of the
checkout, or into ``TICKETPULSE_NATIVE_DIR``.

``streams/domain/__init__.py`` (and ``streams/live/__init__.py``) call ``activate`` before any
submodule is imported: the build's folder of the package goes first on its ``__path__``, so
``streams.domain.ticket`` is then found as the extension module, and mypyc's shared library
(one per build, named below) is loaded from its file. Choosing and loading a build is not
domain logic, so this module lives beside the packages it serves, outside ``streams.domain``.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path

# The modules on the hot path of replay and the worker: the domain's, the live batch
# planner and its key and partition check, the accounts' planning, outbox, records and shares,
# and the window sums a worker publishes (pure too). ``policies`` (YAML loading, run once)
# stays Python; so does this module. ``value`` is compiled so that the records built on it
# are native classes.
COMPILED = (
    "streams.domain.account",
    "streams.domain.account_book",
    "streams.domain.account_links",
    "streams.domain.account_partial",
    "streams.domain.account_decode",
    "streams.domain.account_events",
    "streams.domain.account_facts",
    "streams.domain.account_health",
    "streams.domain.account_thresholds",
    "streams.domain.account_snapshot",
    "streams.domain.account_support",
    "streams.domain.account_timeline",
    "streams.domain.calendars",
    "streams.domain.catalog",
    "streams.domain.clocks",
    "streams.domain.decode",
    "streams.domain.events",
    "streams.domain.facts",
    "streams.domain.instant",
    "streams.domain.kpis",
    "streams.domain.records",
    "streams.domain.snapshot",
    "streams.domain.ticket",
    "streams.domain.tiered_buckets",
    "streams.domain.timeline",
    "streams.domain.value",
    "streams.domain.windows",
    "streams.live.account_outbox",
    "streams.live.account_plan",
    "streams.live.account_records",
    "streams.live.account_share",
    "streams.live.batch",
    "streams.live.partition_replay",
    "streams.live.placement",
    "streams.live.window_sums",
    "streams.live.writes",
)
GROUP = "ticketpulse_domain"  # mypyc's shared library: ``<GROUP>__mypyc<suffix>``
PURE_ENV = "TICKETPULSE_PURE_PYTHON"
DIR_ENV = "TICKETPULSE_NATIVE_DIR"

_SOURCES = Path(__file__).resolve().parent.parent  # the folder holding streams/


@dataclass(frozen=True, slots=True)
class NativeStatus:
    """Which code the domain runs, and why: for the worker's start-up log and the tests."""

    compiled: bool
    reason: str
    build: Path | None = None


def fingerprint() -> str:
    """Names the build of the current sources for this interpreter's extension ABI."""
    digest = hashlib.sha256(importlib.machinery.EXTENSION_SUFFIXES[0].encode())
    for name in COMPILED:
        digest.update(name.encode() + b"\0")
        digest.update(source(name).read_bytes())
    return digest.hexdigest()[:20]


def source(module: str) -> Path:
    """The Python source of a compiled module."""
    return _SOURCES.joinpath(*module.split(".")).with_suffix(".py")


def builds_dir() -> Path:
    """Where builds are kept: ``TICKETPULSE_NATIVE_DIR`` or the checkout's ``build/native``."""
    configured = os.environ.get(DIR_ENV)
    return Path(configured) if configured else _SOURCES / "build" / "native"


def build_path(fingerprint_: str | None = None) -> Path:
    return builds_dir() / (fingerprint_ or fingerprint())


def group_library(build: Path) -> Path | None:
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = build / f"{GROUP}__mypyc{suffix}"
        if candidate.is_file():
            return candidate
    return None


_status: NativeStatus | None = None  # decided by the first ``activate``


def activate(package: str, package_path: list[str]) -> NativeStatus:
    """Put a matching build first on a package's ``__path__`` (``streams.domain``, ...).

    The first call decides for the process; a package's own call only follows it.
    """
    global _status
    if _status is None:
        _status = _load()
    if _status.compiled and _status.build is not None:
        package_path.insert(0, str(_status.build.joinpath(*package.split("."))))
    return _status


def _load() -> NativeStatus:
    if os.environ.get(PURE_ENV, "") not in ("", "0"):
        return NativeStatus(False, f"{PURE_ENV} is set")
    try:
        build = build_path()
    except OSError as error:  # a source that cannot be read: plain Python imports will say
        return NativeStatus(False, f"sources not readable: {error}")
    library = group_library(build)
    if library is None:
        return NativeStatus(False, f"no build for these sources in {build.parent}")
    name = f"{GROUP}__mypyc"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, library)
        if spec is None or spec.loader is None:
            return NativeStatus(False, f"cannot load {library}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except ImportError as error:
            del sys.modules[name]
            return NativeStatus(False, f"cannot load {library}: {error}")
    return NativeStatus(True, "mypyc build of these sources", build)


def status() -> NativeStatus:
    """What ``activate`` decided for this process."""
    return _status or NativeStatus(False, "not activated")


def loaded_compiled() -> list[str]:
    """The compiled modules that are imported as extension modules now."""
    names = []
    for name in COMPILED:
        module = sys.modules.get(name)
        origin = getattr(module, "__file__", None) or ""
        if origin.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)):
            names.append(name)
    return names
