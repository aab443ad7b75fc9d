"""Releases from the database: gather what goes in, build and record the folders, publish them.

One module per job:

- ``inputs``: everything a release is made of, read in one place (``gather`` → ``ReleaseInputs``:
  rows, fields, card facts, what was left out and why)
- ``licences``: which source licences a project lets out, and the licence of a release
- ``versions``: recorded releases and the next version
- ``exporting``: ``export hf | meld-csv | jsonl``; a Hugging Face release is recorded with its
  items and is idempotent by the digest of its inputs
- ``publishing``: ``release publish | list``; a release holding a taken-down source is not published

The card's prose and every file format live in ``exports``; takedown in ``backend.services.takedown``.
"""

from backend.services.release.exporting import (
    ReleaseOptions,
    ReleaseSummary,
    build,
    export_brighter_csv,
    export_jsonl,
    export_meld_csv,
    release_spec,
)
from backend.services.release.inputs import ReleaseInputs, gather, release_fields
from backend.services.release.licences import dataset_licence, licence_allowed
from backend.services.release.publishing import (
    list_releases,
    publish,
    refuse_taken_down,
)
from backend.services.release.versions import (
    find_release,
    get_release,
    latest_release,
    next_version,
)

__all__ = [
    "ReleaseInputs", "ReleaseOptions", "ReleaseSummary", "build", "dataset_licence", "export_brighter_csv", "export_jsonl",
    "export_meld_csv", "find_release", "gather", "get_release", "latest_release", "licence_allowed",
    "list_releases", "next_version", "publish", "refuse_taken_down", "release_fields", "release_spec",
]
