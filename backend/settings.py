"""Settings from the environment (prefix ``MMCURATE_``) or an optional ``.env`` file.

Everything the platform writes lives under one data directory, so two data dirs never
share state. Built by a cached factory, never at import time.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MMCURATE_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path("var"), description="Root of everything mmcurate writes.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default is SQLite at <data_dir>/mmcurate.db. "
        "For PostgreSQL: postgresql+psycopg://user@host:5432/db",
    )
    api_host: str = "127.0.0.1"
    api_port: int = 8765
    public_url: str | None = Field(
        default=None, description="URL at which Label Studio reaches this service (webhooks, media)."
    )
    webhook_secret: str | None = Field(
        default=None, description="Shared secret Label Studio webhooks must carry; generated on init if unset."
    )
    labelstudio_venv: Path | None = Field(
        default=None, description="Virtual environment holding Label Studio; default <data_dir>/labelstudio/venv."
    )
    labelstudio_url: str | None = Field(
        default=None, description="An existing Label Studio to use in shared mode instead of local instances."
    )
    labelstudio_token: str | None = None
    annotator_url: str | None = Field(
        default=None,
        description="The address annotators open (the reverse proxy's public URL, e.g. https://curate.example.org); "
        "each annotator's workspace is <annotator_url>/a/<pseudonym>/. Default: http://<api_host>:<api_port>.",
    )
    instance_idle_minutes: float = Field(
        default=30.0, gt=0, description="Stop an annotator's Label Studio after this long with no request "
        "(a task they opened keeps it up to four times as long).",
    )
    max_running_instances: int = Field(
        default=0, ge=0, description="At most this many Label Studio instances up at once (0: as many as "
        "the machine's available memory holds at ~400 MB each).",
    )
    instance_starts: int = Field(default=2, ge=1, description="Label Studio instances started at the same time, at most.")
    asr_backend: str = "faster-whisper"
    asr_model: str | None = Field(
        default=None, description="Whisper model name or local path; default: the bundled multilingual base."
    )
    asr_device: str = "cpu"
    asr_compute_type: str = "int8"
    asr_batch_size: int = 8
    asr_beam_size: int = 5
    diarization_backend: str = "embedding"
    diarization_model: str | None = Field(
        default=None, description="Local folder of a pyannote.audio pipeline (config.yaml) for --diarization pyannote."
    )
    max_media_seconds: float = 4 * 3600.0
    hf_token: str | None = None
    # The Ray engine (`process --engine ray`); see docs/speech-pipeline.md.
    ray_address: str | None = Field(
        default=None, description="Ray cluster for `process --engine ray` (HOST:PORT of the head); unset: a local Ray.")
    ray_cpus_per_worker: float = Field(default=1.0, gt=0, description="CPUs each model actor reserves (and its threads).")
    ray_num_gpus: float = Field(default=0.0, ge=0, description="GPUs each model actor reserves (e.g. 1, or 0.5 to share).")
    ray_models_dir: str | None = Field(
        default=None, description="Where each Ray worker joins the bundled Whisper base; default its temp folder.")

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'mmcurate.db'}"

    @property
    def gateway_url(self) -> str:
        """The base of every annotator's address (no trailing slash)."""
        if self.annotator_url:
            return self.annotator_url.rstrip("/")
        host = "127.0.0.1" if self.api_host in ("0.0.0.0", "::", "") else self.api_host
        return f"http://{'[' + host + ']' if ':' in host else host}:{self.api_port}"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def clips_dir(self) -> Path:
        return self.data_dir / "clips"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    @property
    def releases_dir(self) -> Path:
        return self.data_dir / "releases"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def labelstudio_dir(self) -> Path:
        return self.data_dir / "labelstudio"

    @property
    def labelstudio_venv_dir(self) -> Path:
        return self.labelstudio_venv or self.labelstudio_dir / "venv"

    def ensure_dirs(self) -> None:
        for path in (self.data_dir, self.media_dir, self.clips_dir, self.reports_dir,
                     self.releases_dir, self.models_dir, self.labelstudio_dir):
            path.mkdir(parents=True, exist_ok=True)
        for private in (self.data_dir, self.labelstudio_dir):  # secrets and every annotator's work live below
            private.chmod(0o700)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests call ``get_settings.cache_clear()`` after changing env."""
    return Settings()
