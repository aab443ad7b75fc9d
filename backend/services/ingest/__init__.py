"""Items that are not clips, in: image folders (memes), chat exports, text corpora; and their near-duplicates."""

from backend.services.ingest.chat import ingest_chat
from backend.services.ingest.common import IngestSummary
from backend.services.ingest.images import ingest_images
from backend.services.ingest.texts import ingest_text

__all__ = ["IngestSummary", "ingest_chat", "ingest_images", "ingest_text"]
