"""WoW sandbox: chunked answers (ContinuePath), WoW-like (every JSON object counted, nested ones too, any
object cut at the boundary, single objects chunked) and strict (top-level items counted, the last header's
lines cut in half), snapshot consistency of a continued answer under concurrent writes, and the 400 answers
for bad continuations."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import pytest

from wow_sandbox.model import loads

if TYPE_CHECKING:
    from tests.winbooks.sandbox_fixtures import SandboxHandle

pytest_plugins = ["tests.winbooks.sandbox_fixtures"]

GEN = "GEN_BV"
TESTER = "tester@sandbox.local"
HEADERS = f"/app/GLTransHeaders/Folder/{GEN}?maxLevel=2"


@pytest.fixture
def generated(wow_sandbox: SandboxHandle) -> SandboxHandle:
    answer = wow_sandbox.control(
        "POST",
        "folders",
        {
            "code": GEN,
            "kind": "generated",
            "years": 2,
            "accounts": 60,
            "relations": 30,
            "documents": 250,
            "seed": 7,
            "grant": [TESTER],
        },
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["counts"]["GLTransHeader"] == 250
    return wow_sandbox


def objects_in(value: Any) -> int:
    """JSON objects in a parsed answer, nested ones included."""
    if isinstance(value, dict):
        return 1 + sum(objects_in(v) for v in value.values())
    if isinstance(value, list):
        return sum(objects_in(v) for v in value)
    return 0


def test_wow_like_chunks_count_every_object_and_cut_at_nearly_every_boundary(
    generated: SandboxHandle,
) -> None:
    answers = generated.chunks("GET", HEADERS)
    chunks = [loads(a.content) for a in answers]
    assert all(a.status_code == 200 for a in answers)
    # a header at maxLevel 2: itself, its BookPeriod and Journal, 4 lines: 7 objects, about 14 a chunk
    assert all(objects_in(c) <= 100 for c in chunks) and max(objects_in(c) for c in chunks) >= 98
    assert len(chunks) == pytest.approx(250 * 7 / 100, rel=0.15)
    cut = sum(left[-1]["Id"] == right[0]["Id"] for left, right in itertools.pairwise(chunks))
    assert cut >= len(chunks) // 2  # most boundaries cut a document somewhere inside
    merged = generated.merge_chunks(chunks)
    assert merged == generated.snapshot(GEN)["documents"]
    assert all(
        len(h["GLTransactions"]) == 4 and h["BookPeriod"]["$type"].endswith("BookPeriod, Winbooks.TORM.OM")
        for h in merged
    )


def test_strict_chunks_count_top_level_items_and_split_the_last_header(generated: SandboxHandle) -> None:
    generated.config(mode="strict")
    answers = generated.chunks("GET", HEADERS)
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[0].headers["ContinuePath"] and answers[1].headers["ContinuePath"]
    assert "ContinuePath" not in answers[2].headers
    chunks = [loads(a.content) for a in answers]
    assert [len(c) for c in chunks] == [100, 100, 52]
    for left, right in ((chunks[0], chunks[1]), (chunks[1], chunks[2])):
        head, tail = left[-1], right[0]
        assert head["Id"] == tail["Id"]
        assert len(head["GLTransactions"]) == 2 and len(tail["GLTransactions"]) == 2
        assert {k: v for k, v in head.items() if k != "GLTransactions"} == {
            k: v for k, v in tail.items() if k != "GLTransactions"
        }
        assert [x["LineOrder"] for x in head["GLTransactions"] + tail["GLTransactions"]] == [0, 1, 2, 3]
    merged = generated.merge_chunks(chunks)
    assert merged == generated.snapshot(GEN)["documents"]


def test_without_split_mode_no_object_is_cut_when_strict(generated: SandboxHandle) -> None:
    config = generated.config(mode="strict", split=False)
    assert config["chunk_size"] == 100 and config["split"] is False and config["count_nested"] is False
    chunks = [loads(a.content) for a in generated.chunks("GET", HEADERS)]
    assert [len(c) for c in chunks] == [100, 100, 50]
    assert chunks[0][-1]["Id"] != chunks[1][0]["Id"]
    assert all(len(h["GLTransactions"]) == 4 for c in chunks for h in c)


def test_only_more_than_chunk_size_items_are_cut(wow_sandbox: SandboxHandle) -> None:
    path = "/app/GLAccounts/Folder/DEMO_BV"
    wow_sandbox.control("POST", "config", {"chunk_size": 11})
    whole = wow_sandbox.api("GET", path)
    assert "ContinuePath" not in whole.headers and len(whole.json()) == 11
    wow_sandbox.control("POST", "config", {"chunk_size": 10})
    answers = wow_sandbox.chunks("GET", path)
    assert [len(a.json()) for a in answers] == [10, 1]
    assert wow_sandbox.read_list("GET", path) == loads(whole.content)


def test_criteria_pages_are_chunked_too(generated: SandboxHandle) -> None:
    body = {
        "Orders": [
            {"PropertyName": "Modified", "Ascending": True},
            {"PropertyName": "Id", "Ascending": True},
        ],
        "FirstResult": 0,
        "MaxResult": 230,
    }
    path = f"/app/GLTransHeaders/Folder/{GEN}/ExecuteCriteria?maxLevel=2"
    answers = generated.chunks("POST", path, body)
    assert len(answers) >= 16  # 230 documents of 7 objects
    generated.config(mode="strict")
    assert len(generated.chunks("POST", path, body)) == 3
    page = generated.merge_chunks(loads(a.content) for a in answers)
    assert len(page) == 230 and len({h["Id"] for h in page}) == 230
    ids = generated.read_list(
        "POST",
        f"/app/GLTranss/Folder/{GEN}/ExecuteCriteria",
        {"ProjectionsList": [{"PropertyName": "Id", "Operator": 22}]},
    )
    assert len(ids) == 1000 and len(set(ids)) == 1000  # scalars are never split


def test_a_continued_answer_is_a_snapshot(generated: SandboxHandle) -> None:
    first = generated.api("GET", HEADERS)
    token: str | None = first.headers["ContinuePath"]
    docs = generated.snapshot(GEN)["documents"]
    late, gone = docs[-1], docs[150]
    edited = generated.control(
        "PATCH", f"folders/{GEN}/objects/GLTransHeader/{late['Id']}", {"DocNumber": 99999}
    )
    assert edited.status_code == 200 and edited.json()["Version"] == 2
    assert generated.control("DELETE", f"folders/{GEN}/objects/GLTransHeader/{gone['Id']}").status_code == 200
    answers = [first]
    while token:
        answers.append(generated.api("GET", HEADERS, headers={"ContinuePath": token or ""}))
        token = answers[-1].headers.get("ContinuePath")
    merged = generated.merge_chunks(loads(a.content) for a in answers)
    assert merged == docs  # as it was when the first chunk was answered
    fresh = generated.read_list("GET", HEADERS)
    assert len(fresh) == 249 and fresh[-1]["DocNumber"] == 99999


def test_the_same_continuepath_can_be_retried(generated: SandboxHandle) -> None:
    token = generated.api("GET", HEADERS).headers["ContinuePath"]
    once = generated.api("GET", HEADERS, headers={"ContinuePath": token})
    again = generated.api("GET", HEADERS, headers={"ContinuePath": token})
    assert once.status_code == again.status_code == 200 and once.content == again.content


def bad_continuation(sandbox: SandboxHandle, path: str, token: str, **kwargs: Any) -> dict[str, Any]:
    answer = sandbox.api("GET", path, headers={"ContinuePath": token}, **kwargs)
    assert answer.status_code == 400, answer.text
    return dict(answer.json())


def test_bad_continuepaths_are_400(generated: SandboxHandle) -> None:
    assert "ContinuePath" in bad_continuation(generated, HEADERS, "not-a-token")["Message"]
    token = generated.api("GET", HEADERS).headers["ContinuePath"]
    # another request (URL) cannot use it
    bad_continuation(generated, f"/app/GLTransHeaders/Folder/{GEN}", token)
    # it expires (10 minutes of sandbox clock)
    generated.control("POST", "clock", {"advance_seconds": 601})
    bad_continuation(generated, HEADERS, token)
    # or is dropped by the control API
    token = generated.api("GET", HEADERS).headers["ContinuePath"]
    assert generated.control("DELETE", "continuations").json()["dropped"] >= 1
    bad_continuation(generated, HEADERS, token)


def test_continuations_need_auth(generated: SandboxHandle) -> None:
    token = generated.api("GET", HEADERS).headers["ContinuePath"]
    answer = generated.session.get(generated.url + HEADERS, headers={"ContinuePath": token})
    assert answer.status_code == 401
