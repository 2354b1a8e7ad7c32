"""Shared fixtures for the cross-package tests."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from pristine_testing import LoopbackServer

PETSTORE: dict[str, Any] = {
    "name": "petstore",
    "version": "1.0",
    "base_url": "http://127.0.0.1:9",
    "base_url_env": "PETSTORE_BASE_URL",
    "auth": {"header": "X-API-Key", "env": "PETSTORE_API_KEY", "key_prefixes": ["pk-"]},
    "defaults": {"timeout_s": 5, "headers": {"X-Client": "tests"}, "query": {"lang": "en"}},
    "pools": {"default": {"connections": 4}, "bulk": {"connections": 2}},
    "resources": {
        "pets": {
            "get": {
                "method": "GET",
                "path": "/pets/{pet_id}",
                "response": "Pet",
                "query": {"verbose": {"type": "boolean"}},
            },
            "list": {
                "method": "GET",
                "path": "/pets",
                "response": "PetList",
                "query": {"limit": {"type": "integer", "default": 20}, "offset": {"type": "integer"}},
            },
            "create": {"method": "POST", "path": "/pets", "request": "NewPet", "response": "Pet", "pool": "bulk"},
            "delete": {"method": "DELETE", "path": "/pets/{pet_id}"},
            "rename": {
                "method": "PUT",
                "path": "/pets/{pet_id}/name",
                "request": "Rename",
                "response": "Pet",
                "timeout_s": 2,
            },
            "photo_url": {"method": "GET", "path": "/pets/{pet_id}/photo", "response": "Link", "redirects": "return"},
        },
        "health": {"ping": {"method": "GET", "path": "/healthz", "auth": False}},
    },
    "types": {
        "Pet": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "name": {"type": "string"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "owner": {"$ref": "Owner", "nullable": True},
                "kind": {"$ref": "Kind"},
            },
            "required": ["id", "name"],
        },
        "Owner": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
        "Kind": {"type": "string", "enum": ["cat", "dog", "fish"]},
        "PetList": {
            "type": "object",
            "properties": {"pets": {"type": "array", "items": {"$ref": "Pet"}}, "total": {"type": "integer"}},
            "required": ["pets"],
        },
        "NewPet": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "kind": {"$ref": "Kind", "default": "cat"},
                "age": {"type": "integer", "minimum": 0},
                "note": {"type": "string", "nullable": True},
                "chip": {"type": "string", "nullable": True, "explicit_null": True},
                "toy": {"$ref": "Toy"},
                "labels": {"type": "object", "additionalProperties": {"type": "number"}},
            },
            "required": ["name"],
        },
        "Ball": {
            "type": "object",
            "properties": {"type": {"type": "string", "const": "ball"}, "size": {"type": "number"}},
        },
        "Bone": {
            "type": "object",
            "properties": {"type": {"type": "string", "const": "bone"}, "meaty": {"type": "boolean"}},
        },
        "Toy": {"oneOf": [{"$ref": "Ball"}, {"$ref": "Bone"}], "discriminator": "type"},
        "Rename": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
        "Link": {
            "type": "object",
            "properties": {
                "url": {"type": "string"},
                "status": {"type": "integer"},
                "expires": {"type": "string", "nullable": True},
            },
        },
    },
}


@pytest.fixture
def petstore() -> dict[str, Any]:
    """A fresh copy of the test manifest."""
    return copy.deepcopy(PETSTORE)


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    """A loopback server; set ``server.handler`` in the test."""
    with LoopbackServer() as srv:
        yield srv
