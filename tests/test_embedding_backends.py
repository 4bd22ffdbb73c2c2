"""Embedding backends: what `embedding.backend` resolves to, and that the bf16 and int8
ONNX backends give vectors close to float32 torch (bench/retrieval.py --backend measures
what that costs in CMRC R@1)."""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import pytest

from index import embeddings
from index.embed_endpoint import EndpointSpec
from index.embeddings import DEFAULT_CACHE_DIR, Embedder, EmbeddingSpec, resolve_backend
from index.errors import ModelUnavailable
from tests.test_embeddings import SENTENCES


@pytest.mark.parametrize(
    ("flags", "backend", "resolved"),
    [
        ({"avx2", "amx_bf16"}, "auto", "torch-bf16"),
        ({"avx2", "avx512_bf16"}, "auto", "torch-bf16"),
        ({"avx2", "avx512f"}, "auto", "torch-fp32"),
        ({"amx_bf16"}, "torch", "torch-fp32"),
        (set(), "torch-bf16", "torch-bf16"),
        (set(), "onnx-int8", "onnx-int8"),
    ],
)
def test_backend_resolution(monkeypatch, flags, backend, resolved):
    monkeypatch.setattr(embeddings, "_cpu_flags", lambda: flags)
    assert resolve_backend(EmbeddingSpec(backend=backend)) == resolved


def test_an_endpoint_wins_and_names_the_served_model():
    spec = EmbeddingSpec(endpoint=EndpointSpec(url="http://127.0.0.1:1/v1", model="e5-gpu"))
    assert resolve_backend(spec) == "endpoint:e5-gpu"
    assert resolve_backend(EmbeddingSpec(endpoint=EndpointSpec(url="http://x/v1"))).endswith(
        "multilingual-e5-small"
    )


def test_a_bad_backend_is_refused_with_the_choices(tmp_path):
    from bot.config import ConfigError, settings_from_dict

    with pytest.raises(ConfigError, match="'auto', 'torch', 'torch-bf16', 'onnx-int8'"):
        settings_from_dict({"embedding": {"backend": "tensorrt"}}, tmp_path)


@pytest.fixture(scope="module")
def fp32() -> np.ndarray:
    return Embedder(EmbeddingSpec(backend="torch")).encode(SENTENCES, "passage")


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1)


def test_bf16_matches_float32(fp32):
    bf16 = Embedder(EmbeddingSpec(backend="torch-bf16")).encode(SENTENCES, "passage")
    assert bf16.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(bf16, axis=1), 1.0, atol=1e-5)
    assert _cosines(bf16, fp32).min() >= 0.999


@pytest.fixture(scope="module")
def int8() -> Embedder:
    embedder = Embedder(EmbeddingSpec(backend="onnx-int8"))
    assert embedder.dim == 384  # exports on first use into the user's model cache
    return embedder


def test_int8_onnx_is_close_to_float32(int8, fp32):
    vectors = int8.encode(SENTENCES, "passage")
    assert vectors.dtype == np.float32 and vectors.shape == fp32.shape
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    cos = _cosines(vectors, fp32)
    print(f"\nint8 vs fp32 cosine: min {cos.min():.4f} mean {cos.mean():.4f}")
    assert cos.min() >= 0.99 and cos.mean() >= 0.995
    # the nearest passage of each query is the same as with float32
    queries = SENTENCES[-12:]
    ours = int8.encode(queries, "query") @ vectors.T
    reference = Embedder(EmbeddingSpec(backend="torch")).encode(queries, "query") @ fp32.T
    assert (ours.argmax(axis=1) == reference.argmax(axis=1)).mean() >= 0.9


def test_int8_export_is_made_once_and_complete(int8):
    from index.onnx_model import INFO_FILE, MODEL_FILE, onnx_int8_folder

    started = time.perf_counter()
    folder = onnx_int8_folder(int8._model_folder(), DEFAULT_CACHE_DIR)
    assert time.perf_counter() - started < 1.0
    assert (folder / MODEL_FILE).is_file() and (folder / "tokenizer.json").is_file()
    assert json.loads((folder / INFO_FILE).read_text())["max_length"] == 512
    assert not list(folder.parent.glob(f".{folder.name}.tmp-*")), "temporary export left behind"


def test_only_mean_pooling_models_can_be_exported(tmp_path):
    folder = tmp_path / "cls-model"
    (folder / "1_Pooling").mkdir(parents=True)
    (folder / "modules.json").write_text(
        json.dumps([{"type": "sentence_transformers.models.Transformer"}])
    )
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    embedder = Embedder(EmbeddingSpec(model=str(folder), backend="onnx-int8", cache_dir=tmp_path))
    with pytest.raises(ModelUnavailable, match=r"mean-pooling.*embedding\.backend: torch"):
        _ = embedder.dim


def test_missing_onnxruntime_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    from index.onnx_model import onnx_int8_folder

    with pytest.raises(ModelUnavailable, match="onnxruntime"):
        onnx_int8_folder(tmp_path / "model", tmp_path / "cache")


def test_an_index_from_before_backends_counts_as_float32_torch(tmp_path):
    from index.manifest import FORMAT_VERSION, MANIFEST_NAME, Manifest

    old = {
        "format_version": FORMAT_VERSION,
        "model": "m",
        "dimension": 3,
        "query_prompt": "q",
        "passage_prompt": "p",
        "chunker": {},
        "files": {},
        "documents": [],
        "chunk_count": 0,
        "built_at": "2026-01-01T00:00:00Z",
        "build_seconds": 1.0,
    }
    (tmp_path / MANIFEST_NAME).write_text(json.dumps(old))
    manifest = Manifest.load(tmp_path)
    assert manifest.backend == "torch-fp32"
    manifest.check_model("m", "q", "p", "torch-fp32")
