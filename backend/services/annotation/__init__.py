"""The annotation loop: Label Studio instances, annotators, batches out, judgements back.

Independence of judgements is structural: every annotator has a Label Studio instance of
their own (nothing inside one Community instance keeps annotators apart, see
docs/threat-model.md), mmcurate imports each annotator's share there and collects from all of
them. Ids repeat across instances, so every Label Studio object is keyed by (instance, id).

One module per job:

- ``home``: where the local Label Studio setup lives; the admin client of an instance
- ``instances``: ``labelstudio start | stop | status``
- ``annotators``: an annotator, their own instance and login
- ``push``: batches out (selection, assignment, tasks in each annotator's instance)
- ``serving``: each instance's own document root, holding only its tasks' media
- ``sync``: judgements back — one reconcile for the webhook receiver and the reconciling pull
- ``receiver``: the webhook writer (senders identified by secret, events re-read, group commit)
- ``simulate``: simulated annotators answering through Label Studio's API
- ``adjudication``: low-agreement items as review tasks
- ``listing``: stored judgements and their history
"""

from backend.services.annotation.adjudication import (
    AdjudicationPush,
    push_adjudications,
)
from backend.services.annotation.annotators import (
    AnnotatorLogin,
    add_annotator,
    ensure_annotator,
    list_annotators,
)
from backend.services.annotation.home import (
    ADJUDICATION_INSTANCE,
    INSTANCE_HEADER,
    SECRET_HEADER,
    WEBHOOK_PATH,
    LabelStudioHome,
)
from backend.services.annotation.instances import (
    InstanceStatus,
    instance_statuses,
    start_instances,
    stop_instances,
)
from backend.services.annotation.listing import annotation_history, list_annotations
from backend.services.annotation.push import PushOptions, PushResult, push
from backend.services.annotation.simulate import (
    SimulateOptions,
    SimulateResult,
    simulate,
)
from backend.services.annotation.sync import (
    SyncResult,
    WebhookLookups,
    pull,
    store_instance_annotations,
    tasks_to_refresh,
)

__all__ = [
    "ADJUDICATION_INSTANCE", "INSTANCE_HEADER", "SECRET_HEADER", "WEBHOOK_PATH", "AdjudicationPush",
    "AnnotatorLogin", "ensure_annotator", "InstanceStatus", "LabelStudioHome", "PushOptions", "PushResult", "SimulateOptions",
    "SimulateResult", "SyncResult", "WebhookLookups", "add_annotator", "annotation_history",
    "instance_statuses", "list_annotations", "list_annotators", "pull", "push", "push_adjudications", "simulate",
    "start_instances", "stop_instances", "store_instance_annotations", "tasks_to_refresh",
]
