"""Deploy markers as senders shape them, read into one normalised `Marker`.

- ours (and the `--deploys` JSON lines): `service`, `version`, `ts`/`started_at`/`at`,
  `finished_at`, `environment`, `status`, `commit`, `author`, `url`, `description`;
- Sentry deploys: `environment`, `name`, `url`, `dateStarted`, `dateFinished` (+ `version`,
  `projects`);
- Grafana annotations: `time`/`timeEnd` in ms, `tags` (`service:x`, `version:x`), `text`;
- Honeycomb markers: `message`, `type`, `start_time`/`end_time` in s, `url`;
- GitHub `deployment_status` webhooks (`from_github`), GitLab deployment events
  (`from_gitlab`), Argo CD notifications (`from_argocd`: the body is the sender's template, so
  the fields of the common templates and a whole `Application` object are read).

A marker without a service may take one from the request (`?service=`); without a time, the
caller supplies when it was received.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from .deploys import parse_time

STATUSES = ("pending", "in_progress", "success", "failure", "error", "inactive")
_GITHUB_STATES = {"queued": "pending", "waiting": "pending"}


class MarkerError(ValueError):
    """The body is not a deploy marker we can read (the receiver answers 400)."""


@dataclass(frozen=True, slots=True)
class Marker:
    service: str
    version: str
    started_at: datetime | None
    finished_at: datetime | None = None
    environment: str = ""
    status: str = "success"
    commit: str = ""
    author: str = ""
    url: str = ""
    description: str = ""
    external_id: str = ""  # the sender's id of the deploy (a GitHub deployment id)


def _text(value: object, limit: int) -> str:
    if value is None or isinstance(value, dict | list):
        return ""
    return str(value).strip()[:limit]


def _first(obj: Mapping[str, object], *keys: str) -> object:
    for key in keys:
        value = obj.get(key)
        if value not in (None, "", []):
            return value
    return None


def _tags(obj: Mapping[str, object]) -> dict[str, str]:
    """Grafana-style tags: ["deploy", "service:checkout", "version=v2"] -> {service, version}."""
    out: dict[str, str] = {}
    tags = obj.get("tags")
    if isinstance(tags, list):
        for tag in tags:
            if isinstance(tag, str):
                for sep in (":", "="):
                    key, found, value = tag.partition(sep)
                    if found and key.strip() and value.strip():
                        out.setdefault(key.strip().lower(), value.strip())
                        break
    return out


def from_generic(obj: object, *, service: str | None = None) -> Marker:
    """A marker from a JSON object in any of the shapes above; `service` (from the request)
    fills in for a body that names none."""
    if not isinstance(obj, Mapping):
        raise MarkerError("a deploy marker is a JSON object")
    tags = _tags(obj)
    projects = obj.get("projects")
    project = projects[0] if isinstance(projects, list) and projects else None
    name = _first(obj, "service", "app", "application", "component") or tags.get("service")
    name = name or tags.get("app") or project or service
    if not isinstance(name, str) or not name.strip():
        raise MarkerError("say which service was deployed: a `service` field or ?service=")
    version = _first(obj, "version", "release", "revision", "tag") or tags.get("version")
    started = _first(
        obj, "started_at", "ts", "at", "timestamp", "dateStarted", "time", "dateReleased"
    )
    started = started if started is not None else obj.get("start_time")
    finished = _first(obj, "finished_at", "dateFinished", "timeEnd", "end_time")
    started_at, finished_at = parse_time(started), parse_time(finished)
    if started is not None and started_at is None:
        raise MarkerError(f"not a time: {str(started)[:60]!r}")
    status = _text(obj.get("status"), 20).lower() or "success"
    if status not in STATUSES:
        raise MarkerError(f"status is one of {', '.join(STATUSES)}")
    description = _first(obj, "description", "text", "message", "name")
    return Marker(
        service=name.strip()[:200],
        version=_text(version, 200),
        started_at=started_at,
        finished_at=finished_at,
        environment=_text(_first(obj, "environment", "env") or tags.get("environment"), 100),
        status=status,
        commit=_text(_first(obj, "commit", "sha", "git_sha", "ref"), 100),
        author=_text(_first(obj, "author", "user", "deployed_by"), 200),
        url=_text(_first(obj, "url", "link"), 2000),
        description=_text(description, 2000),
        external_id=_text(obj.get("id"), 200),
    )


def from_github(event: str, payload: object) -> Marker | None:
    """A marker from a GitHub webhook: `deployment_status` (and `deployment`, as pending);
    None for other events (ping, push …), which are acknowledged and not stored."""
    if event not in ("deployment_status", "deployment") or not isinstance(payload, Mapping):
        return None
    deployment = payload.get("deployment")
    status_obj = payload.get("deployment_status") if event == "deployment_status" else {}
    repository = payload.get("repository")
    if not isinstance(deployment, Mapping) or not isinstance(status_obj, Mapping):
        raise MarkerError("a deployment event carries a deployment object")
    extra = deployment.get("payload") if isinstance(deployment.get("payload"), Mapping) else {}
    assert isinstance(extra, Mapping)
    repo_name = repository.get("name") if isinstance(repository, Mapping) else None
    service = _first(extra, "service", "app") or repo_name
    if not isinstance(service, str) or not service:
        raise MarkerError("no repository or payload.service to name the service")
    state = _text(status_obj.get("state"), 20).lower() or "pending"
    state = _GITHUB_STATES.get(state, state)
    if state not in STATUSES:
        state = "pending"
    sha = _text(deployment.get("sha"), 100)
    ref = _text(deployment.get("ref"), 200)
    version = _first(extra, "version") or (ref if ref and ref != sha else sha[:12])
    creator = deployment.get("creator")
    done = state in ("success", "failure", "error", "inactive")
    return Marker(
        service=service[:200],
        version=_text(version, 200),
        started_at=parse_time(deployment.get("created_at")),
        finished_at=parse_time(status_obj.get("created_at")) if done else None,
        environment=_text(_first(status_obj, "environment") or deployment.get("environment"), 100),
        status=state,
        commit=sha,
        author=_text(creator.get("login") if isinstance(creator, Mapping) else None, 200),
        url=_text(_first(status_obj, "target_url", "log_url", "environment_url"), 2000),
        description=_text(_first(status_obj, "description") or deployment.get("description"), 2000),
        external_id=_text(deployment.get("id"), 200),
    )


def repository_of(payload: object) -> str:
    """`owner/name` of a GitHub webhook's repository ("" without one): selects the hook."""
    if isinstance(payload, Mapping):
        repository = payload.get("repository")
        if isinstance(repository, Mapping):
            return _text(repository.get("full_name"), 200).lower()
    return ""


def github_signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    """`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`, compared in constant
    time."""
    if not secret or not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header[len("sha256=") :].strip().lower())


# GitLab deployment statuses: created, running, success, failed, canceled, blocked, skipped.
_GITLAB_STATES = {
    "created": "pending",
    "blocked": "pending",
    "running": "in_progress",
    "success": "success",
    "failed": "failure",
    "canceled": "inactive",
    "skipped": "inactive",
}


def from_gitlab(event: str, payload: object) -> Marker | None:
    """A marker from a GitLab "Deployment Hook" (`object_kind: deployment`); None for other
    events. The deployment id keys the row: `running` then `success` update one deploy."""
    if not isinstance(payload, Mapping) or payload.get("object_kind") != "deployment":
        return None
    project = payload.get("project")
    project = project if isinstance(project, Mapping) else {}
    service = _first(project, "name", "path_with_namespace")
    if not isinstance(service, str) or not service.strip():
        raise MarkerError("a deployment event names its project")
    status = _GITLAB_STATES.get(_text(payload.get("status"), 20).lower(), "pending")
    changed = parse_time(_text(payload.get("status_changed_at"), 60))
    short_sha = _text(payload.get("short_sha"), 40)
    ref = _text(payload.get("ref"), 200)
    commit_url = _text(payload.get("commit_url"), 2000)
    sha = commit_url.rstrip("/").rsplit("/", 1)[-1] if "/commit/" in commit_url else short_sha
    user = payload.get("user")
    done = status in ("success", "failure", "error", "inactive")
    return Marker(
        service=service.strip()[:200],
        version=ref if ref and not sha.startswith(ref) else short_sha,
        started_at=changed,
        finished_at=changed if done else None,
        environment=_text(payload.get("environment"), 100),
        status=status,
        commit=_text(sha, 100),
        author=_text(user.get("username") if isinstance(user, Mapping) else None, 200),
        url=_text(payload.get("deployable_url") or commit_url, 2000),
        description=_text(payload.get("commit_title"), 2000),
        external_id=_text(payload.get("deployment_id"), 200),
    )


def gitlab_project_of(payload: object) -> str:
    """`group/name` of a GitLab event's project ("" without one): selects the hook."""
    if isinstance(payload, Mapping):
        project = payload.get("project")
        if isinstance(project, Mapping):
            return _text(project.get("path_with_namespace"), 200).lower()
    return ""


def token_ok(secret: str, header: str | None) -> bool:
    """A shared secret sent as is (GitLab's `X-Gitlab-Token`, an Argo CD header), compared in
    constant time."""
    if not secret or not header:
        return False
    return hmac.compare_digest(secret.encode("utf-8"), header.strip().encode("utf-8"))


# Argo CD operation phases (app.status.operationState.phase).
_ARGO_PHASES = {
    "running": "in_progress",
    "terminating": "in_progress",
    "succeeded": "success",
    "failed": "failure",
    "error": "error",
}


def _path(obj: object, *keys: str) -> object:
    for key in keys:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _image_tag(image: object) -> str:
    """The tag of an image reference (`registry:5000/team/api:v2.3.1@sha256:…` → v2.3.1)."""
    if not isinstance(image, str):
        return ""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else ""


def from_argocd(obj: object) -> Marker:
    """A marker from an Argo CD notification. Its body is whatever the webhook template renders:
    read are our own fields (`service`, `version` …), the keys of the common templates
    (`app`/`appName`/`application`, `revision`, `syncStatus`, `phase`, `startedAt`,
    `finishedAt`, `titleLink`, `repo`, `images`) and a whole Application object (`{"app":
    {{toJson .app}}}` or the object itself): metadata.name, status.sync.revision,
    status.operationState, status.summary.images."""
    if not isinstance(obj, Mapping):
        raise MarkerError("an Argo CD notification body is a JSON object")
    app = obj.get("app") if isinstance(obj.get("app"), Mapping) else None
    if app is None and obj.get("kind") == "Application":
        app = obj
    app = app or {}
    link = _text(obj.get("titleLink"), 2000)
    name = (
        _first(obj, "service", "appName", "application", "name")
        or (obj.get("app") if isinstance(obj.get("app"), str) else None)
        or _path(app, "metadata", "name")
        or (link.rstrip("/").rsplit("/applications/", 1)[-1] if "/applications/" in link else None)
    )
    if not isinstance(name, str) or not name.strip():
        raise MarkerError("say which application was synced: `app` or the Application object")
    op = _path(app, "status", "operationState")
    op = op if isinstance(op, Mapping) else {}
    revision = _text(
        _first(obj, "revision", "commit", "sha") or _path(app, "status", "sync", "revision"), 100
    )
    images = obj.get("images") or _path(app, "status", "summary", "images")
    tags = [t for t in map(_image_tag, images if isinstance(images, list) else []) if t]
    version = _first(obj, "version", "tag") or (tags[0] if len(set(tags)) == 1 else None)
    phase = _text(_first(obj, "phase", "status") or op.get("phase"), 20).lower()
    sync = _text(obj.get("syncStatus") or _path(app, "status", "sync", "status"), 20).lower()
    status = _ARGO_PHASES.get(phase) or (phase if phase in STATUSES else "")
    status = status or ("success" if sync == "synced" else "pending")
    started_raw = _first(obj, "startedAt", "started_at", "ts", "time") or op.get("startedAt")
    finished_raw = _first(obj, "finishedAt", "finished_at") or op.get("finishedAt")
    started, finished = parse_time(started_raw), parse_time(finished_raw)
    if started_raw is not None and started is None:
        raise MarkerError(f"not a time: {str(started_raw)[:60]!r}")
    key = f"{name.strip()}@{revision}@{started.isoformat()}" if started and revision else ""
    return Marker(
        service=name.strip()[:200],
        version=_text(version, 200) or revision[:12],
        started_at=started or finished,
        finished_at=finished,
        environment=_text(
            _first(obj, "environment", "env") or _path(app, "spec", "destination", "namespace"),
            100,
        ),
        status=status,
        commit=revision,
        author=_text(_first(obj, "commitAuthor", "author"), 200),
        url=link or _text(_first(obj, "url", "repo"), 2000),
        description=_text(_first(obj, "message", "commitMessage", "description"), 2000),
        external_id=key[:200],
    )
