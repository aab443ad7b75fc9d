"""Install Label Studio, pinned, into its own virtual environment (it pins its own Django stack).

Idempotent: a marker file in the venv records the installed version, so a second call returns
at once; a concurrent call waits on a lock instead of installing twice. Run it ahead of time
with ``python -m annotation_configs.labelstudio.install --venv DIR`` (CI caches DIR).
"""

from __future__ import annotations

import argparse
import fcntl
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from backend.domain import Progress, ServiceUnavailableError, ValidationError

LABEL_STUDIO_VERSION = "1.23.2"
_MARKER = ".mmcurate-label-studio-version"


@dataclass(frozen=True)
class LabelStudioInstall:
    """An installed Label Studio: its venv and version."""

    venv: Path
    version: str

    @property
    def executable(self) -> Path:
        return self.venv / "bin" / "label-studio"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"


def installed(venv: Path, version: str = LABEL_STUDIO_VERSION) -> LabelStudioInstall | None:
    """The install in ``venv`` if it holds ``version`` (by its marker), else None."""
    marker = venv / _MARKER
    found = LabelStudioInstall(venv=venv, version=version)
    if marker.is_file() and marker.read_text().strip() == version and found.executable.exists():
        return found
    return None


def ensure_installed(
    venv: Path,
    version: str = LABEL_STUDIO_VERSION,
    *,
    python: str | None = None,
    on_progress: Progress | None = None,
) -> LabelStudioInstall:
    """Make ``venv`` hold ``label-studio==version``; a no-op when it already does (~1.5 min, ~1 GB once)."""
    if not version or not all(part.isdigit() for part in version.split(".")):
        raise ValidationError(f"Label Studio version {version!r} must be an exact release like 1.23.2")
    found = installed(venv, version)
    if found:
        return found
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f".{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = installed(venv, version)
        if found:
            return found
        step = "install label-studio"
        if on_progress:
            on_progress(step, 0, 3)
        target = LabelStudioInstall(venv=venv, version=version)
        if not target.python.exists():
            _run([python or sys.executable, "-m", "venv", str(venv)], f"create the venv {venv}")
        if on_progress:
            on_progress(step, 1, 3)
        _run(
            [str(target.python), "-m", "pip", "install", "--disable-pip-version-check", "-q",
             f"label-studio=={version}"],
            f"pip install label-studio=={version} into {venv}",
        )
        if on_progress:
            on_progress(step, 2, 3)
        got = _run(
            [str(target.python), "-c", "import importlib.metadata as m; print(m.version('label-studio'))"],
            "read the installed Label Studio version",
        ).strip()
        if got != version:
            raise ServiceUnavailableError(f"{venv} holds label-studio {got}, not {version}; remove {venv} and retry")
        (venv / _MARKER).write_text(version + "\n")
        if on_progress:
            on_progress(step, 3, 3)
        return target


def _run(command: list[str], what: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout)[-1500:]
        raise ServiceUnavailableError(f"could not {what} (exit {done.returncode}); check the package index:\n{tail}")
    return done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Install Label Studio into its own venv. Example: "
        "python -m annotation_configs.labelstudio.install --venv .cache/labelstudio-venv"
    )
    parser.add_argument("--venv", type=Path, required=True, help="virtual environment folder")
    parser.add_argument("--version", default=LABEL_STUDIO_VERSION)
    args = parser.parse_args(argv)
    done = ensure_installed(args.venv, args.version)
    print(f"label-studio {done.version} in {done.venv}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
