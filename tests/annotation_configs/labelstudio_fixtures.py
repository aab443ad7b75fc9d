"""Real Label Studio servers for tests: one install and one initialised template per machine
(cached under .cache/, ~1.5 min and ~60 s the first time), instances started from copies (~5 s).

A pytest plugin: ``tests/conftest.py`` registers it once (``pytest_plugins``), so every test can
ask for ``ls_install``, ``ls_template``, ``ls_media_root`` and ``ls_fleet`` by name without
importing them. ``make_tone`` and ``labelstudio_venv`` are plain functions to import.
The venv location comes from ``MMCURATE_LABELSTUDIO_VENV`` (CI caches it), else ``.cache/labelstudio-venv``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from annotation_configs.labelstudio import instances as ls
from annotation_configs.labelstudio.install import LABEL_STUDIO_VERSION, LabelStudioInstall, ensure_installed

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache"


def labelstudio_venv() -> Path:
    configured = os.environ.get("MMCURATE_LABELSTUDIO_VENV")
    return Path(configured) if configured else CACHE / "labelstudio-venv"


def make_tone(path: Path, seconds: float = 1.0, frequency: int = 440) -> Path:
    """A real 16 kHz mono WAV made by ffmpeg."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"sine=frequency={frequency}:duration={seconds}",
         "-ar", "16000", "-ac", "1", str(path)],
        check=True,
    )
    return path


@pytest.fixture(scope="session")
def ls_install() -> LabelStudioInstall:
    """The pinned Label Studio in its own venv (installed once per machine)."""
    return ensure_installed(labelstudio_venv())


@pytest.fixture(scope="session")
def ls_template(ls_install: LabelStudioInstall, tmp_path_factory: pytest.TempPathFactory) -> ls.Template:
    """An initialised Label Studio data dir (cached per version) that instances start from copies of."""
    return ls.ensure_template(
        ls_install, CACHE / f"labelstudio-template-{LABEL_STUDIO_VERSION}", tmp_path_factory.mktemp("ls-media")
    )


@pytest.fixture(scope="session")
def ls_media_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """LOCAL_FILES_DOCUMENT_ROOT of the test instances, with one real clip in clips/."""
    root = tmp_path_factory.mktemp("media-root")
    make_tone(root / "clips" / "tone.wav")
    return root


@pytest.fixture(scope="session")
def ls_fleet(
    ls_install: LabelStudioInstall,
    ls_template: ls.Template,
    ls_media_root: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[str], ls.LabelStudioInstance]]:
    """``ls_fleet(name)`` -> a running instance, made once per name and session; all stopped at the end."""
    root = tmp_path_factory.mktemp("ls-instances")
    running: dict[str, ls.LabelStudioInstance] = {}

    def get(name: str) -> ls.LabelStudioInstance:
        if name not in running:
            running[name] = ls.create_instance(
                ls_install, ls_template, root / name, ls_media_root, name=name,
                avoid_ports=[i.port for i in running.values()],
            )
        return running[name]

    yield get
    ls.stop_all(running.values())
