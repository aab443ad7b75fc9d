"""The Label Studio adapter: the one place mmcurate talks to a Label Studio server.

Built on label-studio-sdk 2.1.2, with plain HTTP only where the SDK cannot do it (the invite
signup that gives a user a password, and a user's own token). Every call translates a server
that cannot be reached into ``ServiceUnavailableError`` and a refusal into
``LabelStudioError`` carrying the server's own words, so callers never see ``httpx`` or SDK
exceptions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from backend.domain import MmcurateError, NotFoundError, Progress, ServiceUnavailableError, ValidationError

WEBHOOK_ACTIONS = ("ANNOTATION_CREATED", "ANNOTATIONS_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_DELETED")
IMPORT_BATCH = 1000


class LabelStudioError(MmcurateError):
    """Label Studio answered, but refused the request (bad config, bad token, missing object)."""


@dataclass(frozen=True)
class LabelStudioLogin:
    """A Label Studio user who can log in: email + password for the browser, token for the API."""

    email: str
    password: str
    user_id: int
    token: str


@dataclass(frozen=True)
class LsAnnotation:
    """One annotation as Label Studio holds it (ids are per instance)."""

    id: int
    task_id: int
    project_id: int
    completed_by: int | None
    result: list[dict[str, Any]]
    lead_time_s: float | None
    was_cancelled: bool
    created_at: str | None
    updated_at: str | None
    task_data: dict[str, Any]

    @classmethod
    def from_json(cls, raw: Mapping[str, Any], project_id: int, task_data: Mapping[str, Any] | None = None) -> "LsAnnotation":
        completed_by = raw.get("completed_by")
        if isinstance(completed_by, Mapping):
            completed_by = completed_by.get("id")
        task = raw.get("task")
        return cls(
            id=int(raw["id"]),
            task_id=int(task if task is not None else raw["task_id"]),
            project_id=project_id,
            completed_by=completed_by,
            result=list(raw.get("result") or []),
            lead_time_s=raw.get("lead_time"),
            was_cancelled=bool(raw.get("was_cancelled", False)),
            created_at=_iso(raw.get("created_at")),
            updated_at=_iso(raw.get("updated_at")),
            task_data=dict(task_data or raw.get("task_data") or {}),
        )


@dataclass(frozen=True)
class AnnotationEvent:
    """What a webhook claims happened: an action and the Label Studio ids it names.

    A trigger to re-read those tasks from the sending instance, never the values themselves:
    an annotator can post any body with their own instance's secret, so nothing in it is
    stored as it is. ``task_ids`` are named by created/updated events; a deletion names only
    ``annotation_ids``.
    """

    action: str
    annotation_ids: tuple[int, ...] = ()
    task_ids: tuple[int, ...] = ()

    @property
    def is_deletion(self) -> bool:
        return self.action == "ANNOTATIONS_DELETED"


def _ids(entries: Any, key: str, action: str) -> tuple[int, ...]:
    if not isinstance(entries, list) or not entries:
        raise ValidationError(f"{action} webhook has no list of annotations with {key!r}")
    out = []
    for entry in entries:
        value = entry.get(key) if isinstance(entry, Mapping) else None
        if isinstance(value, Mapping):  # some payloads nest the task as an object
            value = value.get("id")
        if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit():
            raise ValidationError(f"{action} webhook carries a malformed {key!r}: {value!r}")
        out.append(int(value))
    return tuple(out)


def parse_webhook(payload: Any) -> AnnotationEvent:
    """The ids an annotation webhook names (Label Studio 1.23 payloads); other actions name none.

    Raises ``ValidationError`` for a body that is not an annotation event (422 at the receiver).
    """
    if not isinstance(payload, Mapping) or not isinstance(payload.get("action"), str):
        raise ValidationError("webhook body must be a JSON object with an 'action'")
    action = payload["action"]
    if action in ("ANNOTATION_CREATED", "ANNOTATION_UPDATED"):
        entries = [payload.get("annotation")]
        return AnnotationEvent(action, _ids(entries, "id", action), _ids(entries, "task", action))
    if action == "ANNOTATIONS_CREATED":
        entries = payload.get("annotations")
        return AnnotationEvent(action, _ids(entries, "id", action), _ids(entries, "task", action))
    if action == "ANNOTATIONS_DELETED":
        return AnnotationEvent(action, _ids(payload.get("annotations"), "id", action))
    return AnnotationEvent(action)


class LabelStudioClient:
    """One Label Studio server, seen with one user's token."""

    def __init__(self, url: str, token: str, *, timeout_s: float = 120.0):
        if not re.match(r"^https?://[^/]+", url or ""):
            raise ValidationError(f"Label Studio URL {url!r} must look like http://127.0.0.1:8080")
        if not token:
            raise ValidationError(f"no API token given for Label Studio at {url}; set one in the settings")
        self.url = url.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s
        self._sdk: Any = None

    @property
    def sdk(self) -> Any:
        """The label-studio-sdk client (made on first use)."""
        if self._sdk is None:
            from label_studio_sdk import LabelStudio

            self._sdk = LabelStudio(base_url=self.url, api_key=self.token, timeout=self.timeout_s)
        return self._sdk

    @contextmanager
    def _call(self, what: str) -> Iterator[None]:
        import httpx
        from label_studio_sdk.core.api_error import ApiError

        try:
            yield
        except httpx.TransportError as exc:
            raise ServiceUnavailableError(
                f"Label Studio at {self.url} cannot be reached to {what} ({type(exc).__name__}: {exc}); "
                f"start it with `mmcurate labelstudio start` or fix the URL in the settings"
            ) from None
        except ApiError as exc:
            body = exc.body if isinstance(exc.body, str) else json.dumps(exc.body, default=str)
            if exc.status_code == 404:
                raise NotFoundError(f"Label Studio at {self.url} has nothing to {what}: {body[:300]}") from None
            if exc.status_code in (401, 403):
                raise LabelStudioError(
                    f"Label Studio at {self.url} refused the token to {what} ({exc.status_code}); "
                    f"check the token in the settings"
                ) from None
            if exc.status_code is not None and exc.status_code >= 500:
                raise ServiceUnavailableError(
                    f"Label Studio at {self.url} failed to {what} ({exc.status_code}): {body[:300]}"
                ) from None
            raise LabelStudioError(f"Label Studio at {self.url} refused to {what} ({exc.status_code}): {body[:500]}") from None

    def _http(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        import httpx

        with self._call(what):
            response = httpx.request(
                method, f"{self.url}{path}", headers={"Authorization": f"Token {self.token}"},
                timeout=self.timeout_s, **kwargs,
            )
        if response.status_code == 404:
            raise NotFoundError(f"Label Studio at {self.url} has nothing to {what}: {response.text[:300]}")
        if response.status_code in (401, 403):
            raise LabelStudioError(f"Label Studio at {self.url} refused the token to {what} ({response.status_code})")
        if response.status_code >= 500:
            raise ServiceUnavailableError(f"Label Studio at {self.url} failed to {what} ({response.status_code})")
        if response.status_code >= 400:
            raise LabelStudioError(f"Label Studio at {self.url} refused to {what} ({response.status_code}): {response.text[:500]}")
        return response.json() if response.content else None

    # -- server and users --------------------------------------------------------------------

    def check(self) -> dict[str, Any]:
        """Who the token belongs to; raises when the server is down or the token is refused."""
        return dict(self._http("GET", "/api/current-user/whoami", "check the connection"))

    def create_login(self, email: str, password: str) -> LabelStudioLogin:
        """A user who can log in with ``email``/``password`` (invite signup; the SDK's users.create drops passwords)."""
        import httpx

        if "@" not in email:
            raise ValidationError(f"{email!r} is not an email address")
        if len(password) < 8:
            raise ValidationError("a Label Studio password needs at least 8 characters")
        invite = self._http("GET", "/api/invite", "make an invite link")
        token = invite.get("token") or re.search(r"token=([^&]+)", invite.get("invite_url", "")).group(1)  # type: ignore[union-attr]
        with self._call(f"sign up {email}"), httpx.Client(base_url=self.url, timeout=self.timeout_s) as browser:
            page = browser.get(f"/user/signup/?token={token}")
            csrf = _csrf(page.text) or browser.cookies.get("csrftoken", "")
            done = browser.post(
                f"/user/signup/?token={token}",
                data={"csrfmiddlewaretoken": csrf, "email": email, "password": password,
                      "how_find_us": "", "allow_newsletters": "false"},
                headers={"Referer": f"{self.url}/user/signup/"},
            )
            if done.status_code != 302:
                reason = _form_error(done.text) or f"status {done.status_code}"
                raise LabelStudioError(f"Label Studio at {self.url} refused to sign up {email!r}: {reason}")
            me = browser.get("/api/current-user/whoami").json()
            user_token = browser.get("/api/current-user/token").json()["token"]
        return LabelStudioLogin(email=email, password=password, user_id=int(me["id"]), token=str(user_token))

    def login(self, email: str, password: str) -> LabelStudioLogin:
        """Log in as a user through the browser form; their token. Proves the login works."""
        import httpx

        with self._call(f"log in as {email}"), httpx.Client(base_url=self.url, timeout=self.timeout_s) as browser:
            page = browser.get("/user/login/")
            csrf = _csrf(page.text) or browser.cookies.get("csrftoken", "")
            done = browser.post(
                "/user/login/", data={"csrfmiddlewaretoken": csrf, "email": email, "password": password},
                headers={"Referer": f"{self.url}/user/login/"},
            )
            if done.status_code != 302:
                raise LabelStudioError(f"Label Studio at {self.url} refused the login of {email!r}")
            me = browser.get("/api/current-user/whoami").json()
            user_token = browser.get("/api/current-user/token").json()["token"]
        return LabelStudioLogin(email=email, password=password, user_id=int(me["id"]), token=str(user_token))

    def as_user(self, token: str) -> "LabelStudioClient":
        """The same server seen with another user's token."""
        return LabelStudioClient(self.url, token, timeout_s=self.timeout_s)

    # -- projects, storage, tasks ------------------------------------------------------------

    def find_project(self, title: str) -> int | None:
        """The id of the project titled ``title``, or None."""
        with self._call(f"list projects to find {title!r}"):
            for project in self.sdk.projects.list(title=title, page_size=100):
                if project.title == title:
                    return int(project.id)
        return None

    def project_ids(self) -> list[int]:
        """The id of every project the token sees."""
        with self._call("list projects"):
            return [int(project.id) for project in self.sdk.projects.list(page_size=100)]

    def update_task_data(self, task_id: int, data: Mapping[str, Any]) -> None:
        """Replace a task's data (the admin's right; annotators are refused by the instance's guard)."""
        self._http("PATCH", f"/api/tasks/{task_id}/", f"update task {task_id}", json={"data": dict(data)})

    def create_project(
        self, title: str, label_config: str, *, instructions: str = "", maximum_annotations: int = 1
    ) -> int:
        """A project; Label Studio validates ``label_config`` here and refuses a broken one."""
        with self._call(f"create project {title!r}"):
            project = self.sdk.projects.create(
                title=title,
                label_config=label_config,
                expert_instruction=instructions,
                show_instruction=bool(instructions),
                maximum_annotations=maximum_annotations,
                show_collab_predictions=True,  # the editor pre-fills ASR/OCR text only when on
                show_skip_button=True,
            )
        return int(project.id)

    def ensure_project(self, title: str, label_config: str, *, instructions: str = "", maximum_annotations: int = 1) -> int:
        """The project titled ``title``, created when missing (re-runs find it)."""
        found = self.find_project(title)
        if found is not None:
            return found
        return self.create_project(
            title, label_config, instructions=instructions, maximum_annotations=maximum_annotations
        )

    def project_config(self, project_id: int) -> str:
        with self._call(f"read project {project_id}"):
            return str(self.sdk.projects.get(id=project_id).label_config)

    def delete_project(self, project_id: int) -> None:
        with self._call(f"delete project {project_id}"):
            self.sdk.projects.delete(id=project_id)

    def ensure_local_storage(self, project_id: int, path: str) -> int:
        """A local-files source over ``path`` so its media are served, only to logged-in users (no sync: we import)."""
        with self._call(f"list local storages of project {project_id}"):
            for storage in self.sdk.import_storage.local.list(project=project_id):
                if storage.path == path:
                    return int(storage.id)
        with self._call(f"add local storage {path!r} to project {project_id}"):
            storage = self.sdk.import_storage.local.create(
                project=project_id, path=path, title="mmcurate media", use_blob_urls=False, recursive_scan=True,
            )
        return int(storage.id)

    def import_tasks(
        self,
        project_id: int,
        tasks: Sequence[Mapping[str, Any]],
        *,
        batch_size: int = IMPORT_BATCH,
        on_progress: Progress | None = None,
    ) -> list[int]:
        """Import task dicts (``{"data": ..., "predictions": [...]}``) in batches; their ids, in order."""
        ids: list[int] = []
        for start in range(0, len(tasks), batch_size):
            batch = list(tasks[start:start + batch_size])
            with self._call(f"import {len(batch)} tasks into project {project_id}"):
                response = self.sdk.projects.import_tasks(id=project_id, request=batch, return_task_ids=True)
            got = list(response.task_ids or [])
            if len(got) != len(batch):
                raise LabelStudioError(
                    f"Label Studio at {self.url} imported {len(got)} of {len(batch)} tasks into project {project_id}"
                )
            ids.extend(int(i) for i in got)
            if on_progress:
                on_progress("import tasks", len(ids), len(tasks))
        return ids

    def export_tasks(self, project_id: int, *, all_tasks: bool = True) -> list[dict[str, Any]]:
        """Every task of a project with its annotations, as Label Studio's JSON export."""
        with self._call(f"export project {project_id}"):
            chunks = self.sdk.projects.exports.download_sync(
                id=project_id, export_type="JSON", download_all_tasks=all_tasks
            )
            raw = b"".join(chunks)
        tasks = json.loads(raw)
        if not isinstance(tasks, list):
            raise LabelStudioError(f"Label Studio at {self.url} exported {str(tasks)[:200]} for project {project_id}")
        return tasks

    def annotations(self, project_id: int) -> list[LsAnnotation]:
        """Every annotation in a project (the reconciling pull reads this)."""
        return _annotations_of(self.export_tasks(project_id, all_tasks=False), project_id)

    def annotations_of_tasks(self, project_id: int, task_ids: Sequence[int]) -> list[LsAnnotation]:
        """The annotations Label Studio holds now on ``task_ids`` of one project, one request per 500 tasks.

        The webhook receiver re-reads what an event names through this, with the instance's admin token.
        """
        out: list[LsAnnotation] = []
        wanted = sorted(set(task_ids))
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            params = [("exportType", "JSON"), ("download_all_tasks", "true"), *(("ids[]", str(i)) for i in chunk)]
            tasks = self._http("GET", f"/api/projects/{project_id}/export", f"read {len(chunk)} tasks of project "
                               f"{project_id}", params=params)
            if not isinstance(tasks, list):
                raise LabelStudioError(f"Label Studio at {self.url} exported {str(tasks)[:200]} for project {project_id}")
            out.extend(_annotations_of([t for t in tasks if t.get("id") in chunk], project_id))
        return out

    def task(self, task_id: int) -> dict[str, Any]:
        return dict(self._http("GET", f"/api/tasks/{task_id}", f"read task {task_id}"))

    def create_predictions(self, predictions: Sequence[Mapping[str, Any]]) -> int:
        """Attach predictions (``{"task", "result", "score", "model_version"}``); how many were made."""
        made = 0
        with self._call("create predictions"):
            for prediction in predictions:
                self.sdk.predictions.create(
                    task=prediction["task"], result=prediction["result"], score=prediction.get("score"),
                    model_version=prediction.get("model_version"),
                )
                made += 1
        return made

    # -- annotations as the token's user -----------------------------------------------------

    def create_annotation(
        self, task_id: int, result: Sequence[Mapping[str, Any]], *, lead_time_s: float | None = None
    ) -> LsAnnotation:
        """Submit an annotation as this client's user, like the editor does."""
        kwargs: dict[str, Any] = {"result": list(result)}
        if lead_time_s is not None:
            kwargs["lead_time"] = lead_time_s
        with self._call(f"annotate task {task_id}"):
            made = self.sdk.annotations.create(id=task_id, **kwargs)
        return self._annotation(made)

    def create_annotations_bulk(
        self, project_id: int, task_ids: Sequence[int], result: Sequence[Mapping[str, Any]], *, lead_time_s: float | None = None
    ) -> int:
        """The same annotation on many tasks at once, as this client's user (load tests); how many were made."""
        kwargs: dict[str, Any] = {"project": project_id, "tasks": list(task_ids), "result": list(result)}
        if lead_time_s is not None:
            kwargs["lead_time"] = lead_time_s
        with self._call(f"annotate {len(task_ids)} tasks of project {project_id} at once"):
            made = self.sdk.annotations.create_bulk(**kwargs)
        return len(made)

    def update_annotation(self, annotation_id: int, result: Sequence[Mapping[str, Any]]) -> LsAnnotation:
        with self._call(f"update annotation {annotation_id}"):
            made = self.sdk.annotations.update(id=annotation_id, result=list(result))
        return self._annotation(made)

    def delete_annotation(self, annotation_id: int) -> None:
        with self._call(f"delete annotation {annotation_id}"):
            self.sdk.annotations.delete(id=annotation_id)

    def annotation(self, annotation_id: int) -> LsAnnotation:
        raw = self._http("GET", f"/api/annotations/{annotation_id}/", f"read annotation {annotation_id}")
        return LsAnnotation.from_json(raw, int(raw.get("project") or 0))

    def _annotation(self, made: Any) -> LsAnnotation:
        raw = made.model_dump(mode="json") if hasattr(made, "model_dump") else dict(made)
        return LsAnnotation.from_json(raw, int(raw.get("project") or 0))

    # -- webhooks ----------------------------------------------------------------------------

    def ensure_webhook(self, url: str, project_id: int, headers: Mapping[str, str]) -> int:
        """Exactly one webhook posting annotation events of ``project_id`` to ``url`` with ``headers``.

        Repairs what a user of the instance may have changed: ours is restored (URL, headers,
        actions, active), and any other webhook on this project or on the whole organisation is
        deleted (mmcurate makes one per project and no other).
        """
        wanted = {"url": url, "send_payload": True, "send_for_all_actions": False,
                  "actions": sorted(WEBHOOK_ACTIONS), "headers": dict(headers), "is_active": True}
        hooks = self._http("GET", "/api/webhooks/", "list webhooks")
        ours = None
        for hook in hooks if isinstance(hooks, list) else []:
            if hook.get("project") not in (project_id, None):
                continue
            if ours is None and hook.get("project") == project_id and hook.get("url") == url:
                ours = hook
                continue
            self._http("DELETE", f"/api/webhooks/{hook['id']}/", f"delete a webhook mmcurate did not make ({hook.get('url')!r})")
        if ours is None:
            made = self._http("POST", "/api/webhooks/", f"add a webhook to project {project_id}",
                              json={**wanted, "project": project_id})
            return int(made["id"])
        current = {key: sorted(ours.get(key) or []) if key == "actions" else ours.get(key) for key in wanted}
        if current != wanted:
            self._http("PATCH", f"/api/webhooks/{ours['id']}/", f"repair the webhook of project {project_id}", json=wanted)
        return int(ours["id"])


def _annotations_of(tasks: Sequence[Mapping[str, Any]], project_id: int) -> list[LsAnnotation]:
    return [LsAnnotation.from_json({**raw, "task": task["id"]}, project_id, task.get("data"))
            for task in tasks for raw in task.get("annotations") or []]


def _iso(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _csrf(html: str) -> str | None:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    return found.group(1) if found else None


def _form_error(html: str) -> str | None:
    found = re.search(r'class="[^"]*error[^"]*"[^>]*>([^<]{3,200})<', html)
    return found.group(1).strip() if found else None
