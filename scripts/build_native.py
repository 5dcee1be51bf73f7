"""Compile the hot modules with mypyc into build/native/<fingerprint>/ (make setup).

    .venv/bin/python scripts/build_native.py [--force] [--keep N] [--check]

The modules are ``streams.native.COMPILED``. Quick when a build of the current
sources exists already. The build is made in a temporary folder and renamed into place, so
a build that fails or is interrupted is never used; it is discarded too if a source changed
while it was compiled. Older builds beyond ``--keep`` are
removed. See streams/native.py for how a build is chosen at import.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ["TICKETPULSE_PURE_PYTHON"] = "1"  # import the loader without loading a build
sys.path.insert(0, str(ROOT))

from streams import native  # noqa: E402


def build(target: Path) -> None:
    """Compile ``native.COMPILED`` into ``target`` (extension modules and mypyc's library)."""
    from mypyc.build import mypycify
    from setuptools import Distribution

    paths = [str(native.source(name).relative_to(ROOT)) for name in native.COMPILED]
    with tempfile.TemporaryDirectory(prefix="ticketpulse-mypyc-") as work:
        extensions = mypycify(paths, group_name=native.GROUP, target_dir=f"{work}/c")
        dist = Distribution({"name": "ticketpulse-native", "ext_modules": extensions})
        command = dist.get_command_obj("build_ext")
        command.build_lib = str(target)
        command.build_temp = f"{work}/obj"
        command.parallel = os.cpu_count() or 1
        command.ensure_finalized()
        command.run()


def prune(keep: int, current: Path) -> None:
    builds = sorted(
        (p for p in current.parent.iterdir() if p.is_dir() and p != current and "." not in p.name),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in builds[max(keep - 1, 0) :]:
        shutil.rmtree(old, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even if a build exists")
    parser.add_argument("--keep", type=int, default=2, help="builds to keep, this one included")
    parser.add_argument(
        "--check", action="store_true", help="build nothing; exit 1 when a build is needed"
    )
    args = parser.parse_args()
    os.chdir(ROOT)
    fingerprint = native.fingerprint()
    target = native.build_path(fingerprint)
    built = native.group_library(target) is not None
    if args.check:
        return 0 if built else 1
    if built and not args.force:
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f"{fingerprint}.", dir=target.parent))
    started = time.monotonic()
    try:
        build(partial)
        if native.fingerprint() != fingerprint:
            print("build_native: sources changed while compiling; run it again", file=sys.stderr)
            return 1
        if target.exists():
            shutil.rmtree(target)
        partial.rename(target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    prune(args.keep, target)
    took = time.monotonic() - started
    print(f"build_native: compiled {len(native.COMPILED)} modules in {took:.0f} s: {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
