"""A small stand-in for the Hugging Face Hub on 127.0.0.1, enough for ``huggingface_hub`` to
download files (``hf_hub_download``) and to create repositories and commit files
(``create_repo``, ``upload_folder``, ``create_branch``, ``whoami``). Tests point ``HF_ENDPOINT`` at it.

Files live in memory: ``repos[repo_id][revision][path] = bytes``. Every request is recorded.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import urllib.parse
from typing import Any

from pristine_testing import LoopbackServer, Reply, SeenRequest, json_reply

_RESOLVE = re.compile(r"^/(?:models/)?(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$")
_API = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)/(?P<op>preupload|commit|branch)/(?P<rev>[^?]+)")
_INFO = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)(?:/revision/(?P<rev>[^/?]+))?$")


class HubStandIn:
    """The fake Hub; ``token`` is the only token it accepts (as ``Authorization: Bearer``)."""

    def __init__(self, token: str = "hf_standin_token", user: str = "tester") -> None:
        self.token = token
        self.user = user
        self.repos: dict[str, dict[str, dict[str, bytes]]] = {}
        self.private: dict[str, bool] = {}
        self.commits: list[dict[str, Any]] = []
        self.server = LoopbackServer(self._handle)

    def __enter__(self) -> HubStandIn:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    @property
    def url(self) -> str:
        """The endpoint (``HF_ENDPOINT``)."""
        return self.server.url

    @property
    def requests(self) -> list[SeenRequest]:
        """Every request received."""
        return self.server.requests

    def add_file(self, repo_id: str, path: str, data: bytes, revision: str = "main") -> None:
        """Put a file into a repository (created when missing)."""
        self.repos.setdefault(repo_id, {}).setdefault(revision, {})[path] = data

    def _authorized(self, request: SeenRequest) -> bool:
        return request.header("Authorization") == f"Bearer {self.token}"

    @staticmethod
    def _commit_hash(files: dict[str, bytes]) -> str:
        digest = hashlib.sha1()
        for name in sorted(files):
            digest.update(name.encode() + hashlib.sha1(files[name]).digest())
        return digest.hexdigest()

    def _handle(self, request: SeenRequest) -> Reply:
        path = urllib.parse.unquote(request.path.split("?", 1)[0])
        if path == "/api/whoami-v2":
            if not self._authorized(request):
                return json_reply({"error": "Invalid credentials in Authorization header"}, 401)
            return json_reply({"type": "user", "name": self.user, "auth": {"accessToken": {"role": "write"}}})
        match = _RESOLVE.match(path)
        if match:
            return self._resolve(request, match["repo"], match["rev"], match["path"])
        if path == "/api/validate-yaml":
            return json_reply({"errors": [], "warnings": []})
        if path == "/api/repos/create":
            return self._create(request)
        match = _API.match(path)
        if match:
            if not self._authorized(request):
                return json_reply({"error": "unauthorized"}, 401)
            repo, rev = match["repo"], urllib.parse.unquote(match["rev"])
            if repo not in self.repos:
                return json_reply({"error": "Repository not found"}, 404, {"X-Error-Code": "RepoNotFound"})
            if match["op"] == "preupload":
                files = request.json().get("files", [])
                return json_reply({"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                             for f in files]})
            if match["op"] == "branch":
                base = self.repos[repo].get("main", {})
                self.repos[repo].setdefault(rev, dict(base))
                return json_reply({})
            return self._commit(request, repo, rev)
        match = _INFO.match(path)
        if match and request.method == "GET":
            repo = match["repo"]
            if repo not in self.repos:
                return json_reply({"error": "Repository not found"}, 404, {"X-Error-Code": "RepoNotFound"})
            rev = match["rev"] or "main"
            files = self.repos[repo].get(rev, {})
            return json_reply({"id": repo, "sha": self._commit_hash(files), "private": self.private.get(repo, False),
                               "siblings": [{"rfilename": name} for name in sorted(files)]})
        return json_reply({"error": f"stand-in does not serve {request.method} {path}"}, 404)

    def _resolve(self, request: SeenRequest, repo: str, rev: str, name: str) -> Reply:
        if repo not in self.repos:
            return json_reply({"error": "Repository not found"}, 404, {"X-Error-Code": "RepoNotFound"})
        files = self.repos[repo].get(rev)
        if files is None:
            return json_reply({"error": "Revision not found"}, 404, {"X-Error-Code": "RevisionNotFound"})
        if name not in files:
            return json_reply({"error": "Entry not found"}, 404, {"X-Error-Code": "EntryNotFound"})
        data = files[name]
        headers = {
            "X-Repo-Commit": self._commit_hash(files),
            "ETag": f'"{hashlib.sha1(data).hexdigest()}"',
            "Content-Type": "application/octet-stream",
        }
        if request.method == "HEAD":
            headers["X-Linked-Size"] = str(len(data))
        return Reply(200, data, headers)

    def _create(self, request: SeenRequest) -> Reply:
        if not self._authorized(request):
            return json_reply({"error": "unauthorized"}, 401)
        body = request.json() or {}
        name = body.get("name")
        org = body.get("organization") or self.user
        repo = name if "/" in str(name) else f"{org}/{name}"
        if repo in self.repos:
            return json_reply({"error": "You already created this model repo", "url": f"{self.url}/{repo}"}, 409)
        self.repos[repo] = {"main": {}}
        # huggingface_hub sends ``visibility`` (newer) or ``private`` (older).
        self.private[repo] = body.get("visibility", "private" if body.get("private") else "public") != "public"
        return json_reply({"url": f"{self.url}/{repo}", "name": repo})

    def _commit(self, request: SeenRequest, repo: str, rev: str) -> Reply:
        lines = [json.loads(line) for line in request.body.decode().splitlines() if line.strip()]
        header = next((line["value"] for line in lines if line.get("key") == "header"), {})
        files = self.repos[repo].setdefault(rev, dict(self.repos[repo].get("main", {})))
        added = []
        for line in lines:
            if line.get("key") == "file":
                value = line["value"]
                files[value["path"]] = base64.b64decode(value["content"])
                added.append(value["path"])
        self.commits.append({"repo": repo, "revision": rev, "summary": header.get("summary"), "files": added})
        oid = self._commit_hash(files)
        return json_reply({"commitUrl": f"{self.url}/{repo}/commit/{oid}", "commitOid": oid, "pullRequestUrl": None})
