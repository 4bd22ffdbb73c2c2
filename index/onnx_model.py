"""The `onnx-int8` backend: the embedding model exported once to ONNX, its transformer
ops fused and its weights quantised to int8, then run by ONNX Runtime.

The export is made from the local sentence-transformers folder (for the default model,
the one `index.e5_convert` wrote) and cached beside it, like that conversion: built in
a temporary folder and renamed into place, so it is made once and never half-read.
Mean pooling and L2 normalisation are part of the exported graph; only mean-pooling
models (e5, most multilingual sentence models) can be exported.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import warnings
from pathlib import Path

import numpy as np

from index.errors import ModelUnavailable

# Bump when the produced folder changes, so caches made by an older exporter are rebuilt.
EXPORT_REVISION = 1
MODEL_FILE = "model.onnx"
INFO_FILE = "zonebot_onnx.json"
_OPSET = 17


def onnx_int8_folder(model_folder: Path, cache_dir: Path) -> Path:
    """The int8 export of `model_folder` under `cache_dir`, made on first use (~30 s)."""
    cache_dir = Path(cache_dir).expanduser()
    target = cache_dir / _export_name(model_folder)
    if (target / MODEL_FILE).is_file():
        return target
    _require_onnx()
    try:
        info = _model_info(model_folder)
    except ValueError as exc:
        raise ModelUnavailable(f"{exc}. Set `embedding.backend: torch` for it.") from None
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=cache_dir))
    try:
        export_int8(model_folder, info, tmp)
        tmp.chmod(0o755)
        try:
            os.rename(tmp, target)
        except OSError:
            if not (target / MODEL_FILE).is_file():  # not a lost race: a real failure
                raise
    except (OSError, ValueError, RuntimeError) as exc:
        raise ModelUnavailable(
            f"Could not export the embedding model to ONNX in {cache_dir}: {exc}. "
            "Make sure that folder is writable with ~1 GB free, or set "
            "`embedding.backend: torch`."
        ) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _export_name(model_folder: Path) -> str:
    """One cache entry per model folder and exporter revision."""
    resolved = str(Path(model_folder).resolve())
    digest = hashlib.sha256(resolved.encode()).hexdigest()[:10]
    return f"{Path(model_folder).name}-{digest}-onnx-int8-r{EXPORT_REVISION}"


def _require_onnx() -> None:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise ModelUnavailable(
            f"`embedding.backend: onnx-int8` needs the onnx and onnxruntime packages ({exc}). "
            "Reinstall zonebot's dependencies, or choose another embedding.backend."
        ) from exc


def export_int8(model_folder: Path, info: dict, dest: Path) -> None:
    """Write model.onnx (int8), tokenizer.json and zonebot_onnx.json into `dest`."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer

    fp32, fused = dest / "fp32.onnx", dest / "fused.onnx"
    _export_fp32(model_folder, info, fp32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fused_model = optimizer.optimize_model(
            str(fp32), model_type="bert", num_heads=info["heads"], hidden_size=info["hidden"]
        )
        fused_model.save_model_to_file(str(fused))
        fp32.unlink()
        # Per-channel int8 weights for every matrix product, including the fused
        # attention's: per-tensor scales lost noticeably more accuracy (cosine 0.987).
        quantize_dynamic(
            str(fused),
            str(dest / MODEL_FILE),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul", "Attention"],
            extra_options={"DefaultTensorType": 1},  # float, for fused ops' outputs
        )
    fused.unlink()
    shutil.copy(model_folder / "tokenizer.json", dest / "tokenizer.json")
    (dest / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    for path in dest.iterdir():
        path.chmod(0o644)


def _model_info(model_folder: Path) -> dict:
    """What the runtime needs, checked: mean pooling, max length, padding token."""

    def read(name: str, empty: dict | list) -> dict | list:
        path = model_folder / name
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else empty

    modules = [m.get("type", "").rsplit(".", 1)[-1] for m in read("modules.json", [])]
    pooling = read("1_Pooling/config.json", {})
    if (
        modules not in (["Transformer", "Pooling", "Normalize"], ["Transformer", "Pooling"])
        or not pooling.get("pooling_mode_mean_tokens")
        or not (model_folder / "tokenizer.json").is_file()
    ):
        raise ValueError(
            f"{model_folder} is not a mean-pooling sentence-transformers model with a "
            "tokenizer.json; only those can be exported"
        )
    config, st_config = read("config.json", {}), read("sentence_bert_config.json", {})
    tokenizer_config = read("tokenizer_config.json", {})
    return {
        "source": str(model_folder),
        "hidden": int(config["hidden_size"]),
        "heads": int(config["num_attention_heads"]),
        "max_length": int(st_config.get("max_seq_length", 512)),
        "pad_token": tokenizer_config.get("pad_token", "<pad>"),
        "pad_id": int(config.get("pad_token_id", 1)),
        "model_kwargs": st_config.get("model_kwargs", {}),
        "revision": EXPORT_REVISION,
    }


def _export_fp32(model_folder: Path, info: dict, path: Path) -> None:
    """Trace the transformer with mean pooling and normalisation into one graph. Eager
    attention gives the op pattern ONNX Runtime's optimiser fuses into Attention."""
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(
        str(model_folder), attn_implementation="eager", **info["model_kwargs"]
    ).eval()

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask)[0]
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=1)

    example = (
        torch.tensor([[0, 5, 6, 2], [0, 7, 2, 1]]),
        torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]]),
    )
    axes = {0: "batch", 1: "tokens"}
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Pooled(),
            example,
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["sentence_embedding"],
            dynamic_axes={
                "input_ids": axes,
                "attention_mask": axes,
                "sentence_embedding": {0: "batch"},
            },
            opset_version=_OPSET,
            dynamo=False,  # the TorchScript exporter needs no onnxscript
        )


class OnnxEncoder:
    """Runs an `onnx_int8_folder` with ONNX Runtime; `embed` is safe from many threads."""

    def __init__(self, folder: Path) -> None:
        _require_onnx()
        import onnxruntime as ort
        from tokenizers import Tokenizer

        from index.embeddings import cpu_count

        info = json.loads((folder / INFO_FILE).read_text(encoding="utf-8"))
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(info["max_length"])
        self._tokenizer.enable_padding(pad_id=info["pad_id"], pad_token=info["pad_token"])
        self._tokenizer_lock = threading.Lock()
        options = ort.SessionOptions()
        options.intra_op_num_threads = cpu_count()
        options.inter_op_num_threads = 1
        # Spinning worker threads (ONNX Runtime's default) fight every other busy process
        # on a small shared machine, as OpenMP's busy-waiting does for torch.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(
                str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # a damaged file fails in onnxruntime's own error types
            raise ModelUnavailable(
                f"Could not load the ONNX export {folder}: {exc}. Delete that folder to have "
                "it exported again."
            ) from exc
        self.dim = int(info["hidden"])

    def embed(self, texts: list[str]) -> np.ndarray:
        with self._tokenizer_lock:
            encodings = self._tokenizer.encode_batch(texts)
        ids = np.asarray([e.ids for e in encodings], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64)
        (vectors,) = self._session.run(None, {"input_ids": ids, "attention_mask": mask})
        return np.ascontiguousarray(vectors, dtype=np.float32)
