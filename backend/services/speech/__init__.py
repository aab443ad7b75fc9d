"""The speech pipeline over the database: media sources in, utterance clips out.

Every stage of every asset leaves a ``stage_runs`` row keyed by (stage, subject, config hash):
a re-run skips what is done under the same configuration, a changed model configuration re-runs
that stage and the stages that consume it, and a crash leaves at most one ``running`` row,
which the next run redoes. Only what changes a stage's output is hashed (see
``ingest.stages.config_hash``): batch size, device and compute type re-run nothing. A stage's
results are committed together with its ``done`` row, so a kill at any point never leaves half
a result behind. One bad file fails its own source with a readable reason and the batch goes on.

Re-running the utterances stage never deletes human work: items with annotations, tasks,
adjudications, aggregated labels or release items are kept and marked superseded (see
``utterance_items.replace_utterances``); only items nobody worked on are replaced.

One module per job:

- ``sources``: a folder of media registered as sources; sources listed with their stage runs
- ``remote``: media from the web (yt-dlp) and manifests, licence decided before download
- ``config``: the pipeline configuration from settings, and the models, loaded on first use
- ``ledger``: the stage-run rows that make a re-run skip finished work and resume after a crash
- ``stages``: the six stages over one source, each a function, with its hash and skip rule
- ``runner``: ``process_project``, walking each source through the stages (the in-process engine)
- ``ray_engine``: the same walks with their work computed on a Ray cluster (``engine="ray"``)
- ``utterance_items``: an asset's utterances made its clip items, keeping human work
- ``listing``: the utterances and stage runs, as the CLI and API show them
"""

from backend.services.speech.config import PipelineConfig, PipelineModels, config_from_settings
from backend.services.speech.listing import list_utterances, stage_runs, utterance_as_dict, utterance_page
from backend.services.speech.runner import ENGINES, ProcessReport, process_project
from backend.services.speech.sources import (
    IngestReport,
    ingest_folder,
    list_sources,
    source_as_dict,
    source_page,
    source_runs,
)
from backend.services.speech.stages import STAGES, utterances_hash
from backend.services.speech.utterance_items import ReplaceOutcome, replace_utterances

__all__ = [
    "ENGINES", "STAGES", "IngestReport", "PipelineConfig", "PipelineModels", "ProcessReport", "ReplaceOutcome",
    "config_from_settings", "ingest_folder", "list_sources", "list_utterances", "process_project",
    "replace_utterances", "source_as_dict", "source_page", "source_runs", "stage_runs", "utterance_as_dict",
    "utterance_page", "utterances_hash",
]
