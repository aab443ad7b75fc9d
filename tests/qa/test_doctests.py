"""The published reference values quoted in qa/ docstrings are executed, so they cannot drift from the code."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["qa.agreement", "qa.ratings", "qa.distances", "qa.fields", "qa.diagnostics", "qa.gate", "qa.aggregate",
           "qa.importer", "qa.plots", "qa.pairwise", "qa.error_rates"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_agreement_docstrings_hold_the_published_examples():
    module = importlib.import_module("qa.agreement")
    finder = doctest.DocTestFinder()
    examples = sum(len(t.examples) for name in ("qa.agreement", "qa.distances")  # MASI's examples sit with it
                   for t in finder.find(importlib.import_module(name)))
    assert examples >= 15  # Krippendorff 2011 (4 levels), Wikipedia kappa, MASI, ...
    assert "0.743" in module.__doc__ and "0.815" in module.__doc__ and "0.849" in module.__doc__ and "0.797" in module.__doc__
