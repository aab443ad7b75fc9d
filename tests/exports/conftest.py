"""Shared fixtures for the export tests: one small real release, built once per session."""

from __future__ import annotations

import pytest

from tests.exports.builders import make_context, make_rows, make_spec


@pytest.fixture(scope="session")
def release_inputs(tmp_path_factory):
    """24 rows (6 sources × 4 utterances, 3 annotators) with real WAV clips, and the spec."""
    root = tmp_path_factory.mktemp("release-inputs")
    return make_rows(root / "clips"), make_spec()


@pytest.fixture(scope="session")
def built_release(release_inputs, tmp_path_factory):
    from exports.build import build_release

    rows, spec = release_inputs
    context = make_context()
    out = tmp_path_factory.mktemp("release") / "demo-1.0.0"
    return build_release(rows, spec, context, out, code="test-code")
