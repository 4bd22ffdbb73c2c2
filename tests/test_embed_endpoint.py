"""Embedding offload against a stub OpenAI-compatible /v1/embeddings server on 127.0.0.1
that answers with the local model's vectors: batching, concurrency, retries, errors, and
a whole build and search through it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from index.embed_endpoint import EndpointError, EndpointSpec
from index.embeddings import Embedder, EmbeddingSpec
from index.errors import IndexMismatch
from tests.http_support import send_json

TEXTS = [f"第{i}条 自由贸易试验区应当优化营商环境，第{i}项措施适用于区内企业。" for i in range(40)]


@dataclass
class StubState:
    """What the stub does and what it saw."""

    embedder: Embedder
    failures: list[str] = field(default_factory=list)  # "503", "drop", "400", "short" in turn
    batches: list[int] = field(default_factory=list)
    requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    authorization: set[str] = field(default_factory=set)
    delay_s: float = 0.05
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(state: StubState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with state.lock:
                state.requests += 1
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
                state.authorization.add(self.headers.get("Authorization", ""))
                failure = state.failures.pop(0) if state.failures else None
            try:
                self._answer(body, failure)
            finally:
                with state.lock:
                    state.in_flight -= 1

        def _answer(self, body: dict, failure: str | None) -> None:
            time.sleep(state.delay_s)
            if self.path != "/v1/embeddings":
                return send_json(self, 404, {"error": "not found"})
            if failure == "drop":
                self.close_connection = True
                self.connection.close()
                return None
            if failure in ("503", "400"):
                return send_json(self, int(failure), {"error": {"message": "stub says no"}})
            texts = body["input"]
            state.batches.append(len(texts))
            vectors = state.embedder.encode(texts, "passage")
            if failure == "short":
                vectors = vectors[:-1]
            data = [
                {"object": "embedding", "index": i, "embedding": v.tolist()}
                for i, v in reversed(list(enumerate(vectors)))  # order must come from `index`
            ]
            return send_json(self, 200, {"object": "list", "data": data, "model": body["model"]})

    return Handler


@pytest.fixture(scope="module")
def local_model() -> Embedder:
    """The local model without prompts: the client sends texts already prompted. Loaded
    before the stub serves, so no first request waits for it (and times out)."""
    model = Embedder(EmbeddingSpec(backend="torch", query_prompt="", passage_prompt=""))
    assert model.dim == 384
    return model


@pytest.fixture
def stub(local_model) -> Iterator[tuple[StubState, str]]:
    state = StubState(local_model)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def remote(url: str, **endpoint) -> Embedder:
    return Embedder(EmbeddingSpec(endpoint=EndpointSpec(url=url, **endpoint)))


def test_vectors_are_the_servers_in_input_order_batched_and_concurrent(stub, local_model):
    state, url = stub
    embedder = remote(url, batch_size=8, concurrency=4)
    ours = embedder.encode(TEXTS, "passage")
    expected = local_model.encode(["passage: " + t for t in TEXTS], "passage")
    np.testing.assert_allclose(ours, expected, atol=1e-5)
    assert embedder.dim == 384 and embedder.backend == f"endpoint:{embedder.spec.model}"
    assert max(state.batches) <= 8 and sum(state.batches) == len(TEXTS) + 1  # + the dim probe
    assert state.max_in_flight > 1, "batches should be in flight side by side"
    query = embedder.embed_query(TEXTS[0])
    expected = local_model.encode(["query: " + TEXTS[0]], "query")[0]
    np.testing.assert_allclose(query, expected, atol=1e-5)


def test_transient_failures_are_retried(stub):
    state, url = stub
    embedder = remote(url, batch_size=64, retries=3)
    _ = embedder.dim
    state.failures = ["503", "drop"]
    before = state.requests
    vectors = embedder.encode(TEXTS[:5], "passage")
    assert vectors.shape == (5, 384) and state.requests - before == 3


def test_retries_run_out_with_a_message_naming_the_server(stub):
    state, url = stub
    state.failures = ["503"] * 3
    with pytest.raises(EndpointError, match=r"127\.0\.0\.1.*HTTP 503.*embedding\.endpoint\.url"):
        remote(url, retries=2).encode(TEXTS[:2], "passage")
    assert state.requests == 3


def test_a_refused_request_is_not_retried(stub):
    state, url = stub
    state.failures = ["400"]
    with pytest.raises(EndpointError, match="HTTP 400"):
        remote(url, retries=3).encode(TEXTS[:2], "passage")
    assert state.requests == 1


def test_a_reply_with_missing_vectors_is_refused(stub):
    state, url = stub
    embedder = remote(url)
    _ = embedder.dim
    state.failures = ["short"]
    with pytest.raises(EndpointError, match="3 usable vectors for 4 texts"):
        embedder.encode(TEXTS[:4], "passage")


def test_no_server_is_a_clear_error():
    with pytest.raises(EndpointError, match="ConnectError"):
        _ = remote("http://127.0.0.1:9/v1", retries=0).dim


def test_build_and_search_through_the_endpoint(stub, real_settings, tmp_path):
    from dataclasses import replace

    from bot.wiring import open_retriever, run_index

    _, url = stub
    embedding = replace(real_settings.embedding, endpoint=EndpointSpec(url=url, concurrency=2))
    index = replace(real_settings.index, dir=tmp_path / "index")
    settings = replace(real_settings, embedding=embedding, index=index)
    summary = run_index(settings)
    assert summary.embedded == summary.chunks > 10
    retriever = open_retriever(settings)
    assert retriever.index.manifest.backend.startswith("endpoint:")
    hits = retriever.search("规模以上工业总产值", mode="dense")
    assert "102.25" in hits[0].chunk.text
    local = replace(settings, embedding=real_settings.embedding)
    with pytest.raises(IndexMismatch, match=r"embedding\.backend"):
        open_retriever(local)


def test_api_key_comes_from_the_environment_only(stub, tmp_path, monkeypatch):
    from bot.config import ConfigError, settings_from_dict

    state, url = stub
    monkeypatch.setenv("EMBEDDING_API_KEY", "s3cret")
    spec = settings_from_dict({"embedding": {"endpoint": {"url": url}}}, tmp_path).embedding
    assert "s3cret" not in repr(spec)
    Embedder(spec).encode(TEXTS[:1], "passage")
    assert state.authorization == {"Bearer s3cret"}
    with pytest.raises(ConfigError, match=r"Unknown config key 'embedding\.endpoint\.api_key'"):
        settings_from_dict({"embedding": {"endpoint": {"url": url, "api_key": "x"}}}, tmp_path)
    with pytest.raises(ConfigError, match="http://"):
        settings_from_dict({"embedding": {"endpoint": {"url": "gpu-1:8080"}}}, tmp_path)
