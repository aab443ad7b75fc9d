"""The Label Studio adapter: the one place mmcurate talks to Label Studio.

- ``client``: the HTTP/SDK client, annotations as Label Studio holds them, webhook bodies parsed
- ``instances``: local instances (one per annotator) made from a template, started and stopped
- ``install``: Label Studio, pinned, in its own virtual environment
- ``results``: Label Studio results <-> normalised values of a scheme
- ``site/``: Django settings and a guard that run *inside* each instance (they import nothing of ours)
"""

from annotation_configs.labelstudio.client import (
    AnnotationEvent,
    LabelStudioClient,
    LabelStudioError,
    LabelStudioLogin,
    LsAnnotation,
    parse_webhook,
)

__all__ = ["AnnotationEvent", "LabelStudioClient", "LabelStudioError", "LabelStudioLogin", "LsAnnotation",
           "parse_webhook"]
