"""Build a complete pyannote.audio 4.x speaker-diarization folder with random weights, offline.

pyannote's pretrained pipelines are gated on the hub, so the adapter is tested with models made
here: a small ``PyanNet`` segmentation model (powerset, 3 speakers, 2 at once), a
``WeSpeakerResNet34`` embedding model, a random PLDA and the ``config.yaml`` naming
``SpeakerDiarization`` with VBx clustering. One segmentation class is biased so that speech is
found and clustering really runs. Output is meaningless; loading, decoding and the pipeline are real.
"""

from __future__ import annotations

from pathlib import Path


def _save(model, path: Path) -> None:
    import pytorch_lightning
    import torch

    checkpoint = {"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams),
                  "pytorch-lightning_version": pytorch_lightning.__version__}
    model.on_save_checkpoint(checkpoint)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, path)


def build_random_pipeline(folder: Path) -> Path:
    import numpy as np
    import torch
    import yaml
    from pyannote.audio import __version__
    from pyannote.audio.core.task import Problem, Resolution, Specifications
    from pyannote.audio.models.embedding import WeSpeakerResNet34
    from pyannote.audio.models.segmentation import PyanNet

    torch.manual_seed(0)
    segmentation = PyanNet(lstm={"hidden_size": 32, "num_layers": 1, "bidirectional": True, "monolithic": True,
                                 "dropout": 0.0}, linear={"hidden_size": 32, "num_layers": 1})
    segmentation.specifications = Specifications(
        problem=Problem.MONO_LABEL_CLASSIFICATION, resolution=Resolution.FRAME, duration=5.0,
        classes=["speaker#1", "speaker#2", "speaker#3"], powerset_max_classes=2, permutation_invariant=True)
    segmentation.build()
    with torch.no_grad():
        segmentation.classifier.bias[1] += 4.0  # "speaker#1 alone" most of the time
    _save(segmentation, folder / "segmentation" / "pytorch_model.bin")

    embedding = WeSpeakerResNet34()
    embedding.specifications = Specifications(problem=Problem.REPRESENTATION, resolution=Resolution.CHUNK,
                                              duration=5.0)
    _save(embedding, folder / "embedding" / "pytorch_model.bin")

    rng = np.random.default_rng(0)
    dim, lda = 256, 128
    (folder / "plda").mkdir(parents=True, exist_ok=True)
    np.savez(folder / "plda" / "xvec_transform.npz", mean1=rng.normal(size=dim) * 0.01,
             mean2=rng.normal(size=lda) * 0.01, lda=np.linalg.qr(rng.normal(size=(dim, dim)))[0][:, :lda])
    np.savez(folder / "plda" / "plda.npz", mu=np.zeros(lda), tr=np.eye(lda) + 0.01 * rng.normal(size=(lda, lda)),
             psi=np.linspace(2.0, 0.1, lda))
    config = {
        "dependencies": {"pyannote.audio": __version__},
        "pipeline": {"name": "pyannote.audio.pipelines.SpeakerDiarization", "params": {
            "segmentation": "$model/segmentation", "embedding": "$model/embedding", "plda": "$model/plda",
            "clustering": "VBxClustering", "segmentation_step": 0.5, "embedding_batch_size": 8,
            "segmentation_batch_size": 8, "embedding_exclude_overlap": True}},
        "params": {"clustering": {"threshold": 0.6, "Fa": 0.07, "Fb": 0.8},
                   "segmentation": {"min_duration_off": 0.0}},
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    return folder
