"""Embedding offload: vectors from an OpenAI-compatible `/v1/embeddings` server.

Text Embeddings Inference, Infinity, vLLM and Ollama all speak this protocol, so a GPU
server (or a load-balanced pool of them) can do the bulk work of a large build. Batches
go out several at a time (`concurrency`); a refused connection, a timeout, a 429 or a
5xx is retried with exponential backoff (honouring Retry-After); any other answer, or a
reply of the wrong shape, stops the build with a message naming the server.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from index.errors import ModelUnavailable

SECRET = {"secret": True}  # field metadata: filled from the environment, never from YAML
_RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}
_MAX_BACKOFF_S = 30.0


@dataclass(frozen=True)
class EndpointSpec:
    url: str = ""  # base URL, e.g. http://gpu-1:8080/v1 ("" = embed locally)
    model: str = ""  # the model name the server knows ("" = embedding.model)
    batch_size: int = 64  # texts per request
    concurrency: int = 4  # requests in flight at once
    retries: int = 3  # further attempts after a failed request
    timeout_s: float = 60.0
    api_key_env: str = "EMBEDDING_API_KEY"  # bearer token, when the server wants one
    api_key: str = field(default="", repr=False, metadata=SECRET)


class EndpointError(ModelUnavailable):
    """The embedding server did not give usable vectors."""


class EndpointEncoder:
    """`embed(texts)` and `embed_many(batches)` against one server; thread-safe."""

    def __init__(self, spec: EndpointSpec, model: str) -> None:
        import httpx

        self.spec = spec
        self.model = model
        self._url = spec.url.rstrip("/") + "/embeddings"
        headers = {"Authorization": f"Bearer {spec.api_key}"} if spec.api_key else {}
        limits = httpx.Limits(max_connections=max(1, spec.concurrency))
        self._client = httpx.Client(headers=headers, timeout=spec.timeout_s, limits=limits)
        self._dim = 0
        self._dim_lock = threading.Lock()

    @property
    def dim(self) -> int:
        """The server's vector size, asked once with a one-word request."""
        with self._dim_lock:
            if not self._dim:
                self._dim = self._request(["dimension"]).shape[1]
        return self._dim

    def embed(self, texts: list[str]) -> np.ndarray:
        vectors = self._request(texts)
        if self._dim and vectors.shape[1] != self._dim:
            raise EndpointError(
                f"嵌入服务 {self._url} 返回 {vectors.shape[1]} 维向量，之前为 {self._dim} 维。"
                " The embedding server changed its vector size mid-run: which model does it serve?"
            )
        return vectors

    def embed_many(self, batches: Iterable[list[str]]) -> Iterator[np.ndarray]:
        """Vectors of each batch, in order, with up to `concurrency` requests in flight."""
        with ThreadPoolExecutor(max(1, self.spec.concurrency), "embed-endpoint") as pool:
            yield from pool.map(self.embed, batches)

    def _request(self, texts: list[str]) -> np.ndarray:
        import httpx

        payload = {"model": self.model, "input": texts, "encoding_format": "float"}
        delay = 0.5
        for attempt in range(self.spec.retries + 1):
            last = attempt == self.spec.retries
            try:
                response = self._client.post(self._url, json=payload)
            except httpx.HTTPError as exc:
                if last:
                    raise self._failed(f"{type(exc).__name__}: {exc}") from None
            else:
                if response.status_code == 200:
                    return self._vectors(response, len(texts))
                if response.status_code not in _RETRY_STATUS or last:
                    raise self._failed(f"HTTP {response.status_code}: {response.text[:200]}")
                delay = max(delay, _retry_after(response))
            time.sleep(min(delay, _MAX_BACKOFF_S))
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    def _vectors(self, response, count: int) -> np.ndarray:
        """Rows in input order (by each item's `index`), L2-normalised."""
        try:
            items = sorted(response.json()["data"], key=lambda item: item["index"])
            vectors = np.asarray([item["embedding"] for item in items], dtype=np.float32)
        except (ValueError, KeyError, TypeError) as exc:
            raise self._failed(f"unexpected reply ({type(exc).__name__}: {exc})") from None
        if vectors.ndim != 2 or len(vectors) != count or not np.isfinite(vectors).all():
            raise self._failed(f"{len(vectors)} usable vectors for {count} texts")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    def _failed(self, reason: str) -> EndpointError:
        return EndpointError(
            f"嵌入服务出错 ({self._url}, model {self.model!r}): {reason}。"
            " Check that the server is up and serves this model (embedding.endpoint.url, "
            "embedding.endpoint.model), or remove embedding.endpoint to embed locally."
        )


def _retry_after(response) -> float:
    try:
        return float(response.headers.get("Retry-After", 0))
    except ValueError:
        return 0.0
