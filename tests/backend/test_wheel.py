"""The built wheel is a working install: it carries the migrations and the data files the code
reads at run time, and `mmcurate init` migrates a fresh data dir from it, far from the source tree.

Regression: the wheel found its migrations through the source checkout (``alembic.ini`` and
``alembic/`` beside the repository) and its ``package-data`` named a folder that did not exist,
so `mmcurate init` failed from an installed wheel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from backend.db import migrations
from backend.db.models import Base

REPO = Path(__file__).resolve().parents[2]

RUNTIME_DATA = (
    "backend/db/alembic/**/*", "annotation_configs/schemes/*.yaml", "annotation_configs/labelstudio/site/*.py",
)
"""Files the code finds beside its modules through ``__file__``; every one must be in the wheel."""


def _source_copy(dest: Path) -> Path:
    """What setuptools needs (pyproject, README, the packages it finds), copied so the build leaves
    ``build/`` and ``*.egg-info`` there rather than in the shared working tree."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    dest.mkdir()
    for name in ("pyproject.toml", pyproject["project"]["readme"]):
        shutil.copy2(REPO / name, dest / name)
    for package in sorted(packages):
        shutil.copytree(REPO / package, dest / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


def _pip(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", *args],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"pip {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the wheel, the folder it is installed into with ``pip install --no-deps --target``)."""
    root = tmp_path_factory.mktemp("wheel")
    source = _source_copy(root / "src")
    # no build isolation: the build backend (setuptools) is already in this environment, and the
    # machine may have no package index to fetch it from
    _pip("wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(root / "dist"), str(source))
    (wheel,) = (root / "dist").glob("mmcurate-*.whl")
    target = root / "target"
    _pip("install", "--no-deps", "-q", "--target", str(target), str(wheel))
    return wheel, target


def test_the_wheel_carries_every_file_the_code_reads_at_run_time(installed: tuple[Path, Path]) -> None:
    wheel, _target = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        p.relative_to(REPO).as_posix()
        for pattern in RUNTIME_DATA for p in REPO.glob(pattern)
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert any(n.startswith("backend/db/alembic/versions/") for n in expected)
    assert expected - names == set()


def test_mmcurate_init_from_the_installed_wheel_migrates_a_fresh_data_dir_to_head(
    installed: tuple[Path, Path], tmp_path: Path
) -> None:
    _wheel, target = installed
    outside = tmp_path / "elsewhere"  # neither the repository nor anything under it
    outside.mkdir()
    data_dir = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMCURATE_") and k != "PYTHONPATH"}
    env |= {"PYTHONPATH": str(target), "MMCURATE_DATA_DIR": str(data_dir)}

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, *argv], cwd=outside, env=env, capture_output=True, text=True,
                              timeout=60, check=False)

    # the .venv holds an editable install of the repository: make sure the code comes from the wheel
    where = run("-c", "import backend, annotation_configs; print(backend.__file__); print(annotation_configs.__file__)")
    assert where.returncode == 0, where.stderr
    assert all(Path(line).is_relative_to(target) for line in where.stdout.split()), where.stdout

    for _ in range(2):  # init is idempotent
        done = run(str(target / "bin" / "mmcurate"), "init")
        assert done.returncode == 0, f"mmcurate init failed from the wheel:\n{done.stdout}\n{done.stderr}"

    url = f"sqlite:///{data_dir / 'mmcurate.db'}"
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert revision == migrations.head_revision(url)
    assert {t.name for t in Base.metadata.sorted_tables} <= tables
    assert f"(revision {revision})" in done.stdout
