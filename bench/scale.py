"""Scale benchmark: build throughput per embedding backend, and serving at 2k, 20k and
100k+ chunks of ../shared/bench/law_library.

    python bench/scale.py throughput [--corpus DIR] [--backends torch torch-bf16 onnx-int8]
    python bench/scale.py serve [--levels 2000 20000 all] [--backend B] [--questions N] [--reuse]

`throughput`: for each backend a whole `zonebot index --rebuild` of the corpus (default
policy_docs, the 17 statutes), in its own process: chunks/s of the whole build (model
load, parsing, jieba, SQLite and FAISS included) and its peak RSS; then plain
sentence-transformers float32 `encode` of the same chunk texts in the same run, and each
build's rate as a ratio to that.

`serve`: for each level an index of a subset of law_library (whole files, in a fixed
shuffled order, until the estimated chunk count is reached; `all` = every file), built
with the default settings (HNSW above `index.dense.hnsw_above`), then in a fresh process
the answer engine over it: `ask` p50/p95 over library questions, retrieval p50, peak RSS;
and HNSW recall@10 against exact search over the same vectors. A level's build time is
also extrapolated to the whole library at the measured rate.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import POLICY_DOCS, ROOT, SHARED, WORK, percentile, print_table, require_shared

LAW_LIBRARY = SHARED / "bench" / "law_library"
QUESTION_FILES = sorted((ROOT / "bench" / "questions").glob("train_*.jsonl"))
CHARS_PER_CHUNK = 170  # law_library: ~20.6 M characters, 100,000+ chunks
BACKENDS = ["torch", "torch-bf16", "onnx-int8"]

# A fresh, small interpreter runs the measured child and reports its peak RSS (measuring
# from this process would count the parent's peak, which Linux carries across exec).
_MEASURE_CHILD = """
import resource, subprocess, sys
out = subprocess.run(sys.argv[1:], check=True, stdout=subprocess.PIPE, text=True).stdout
print(out.strip().splitlines()[-1])
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def measured(task: str, **params) -> dict:
    """Run `task` in a fresh process; its JSON result plus `peak_rss_mb`."""
    child = [sys.executable, __file__, "_child", task, json.dumps(params, default=str)]
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE_CHILD, *child],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    result_line, rss = done.stdout.strip().splitlines()[-2:]
    return json.loads(result_line) | {"peak_rss_mb": int(rss) / 1024}


# ----------------------------------------------------------------------------- children


def _settings(index_dir: str, backend: str | None = None):
    """Settings of a level's index; its corpus paths are listed in `<index_dir>.files`
    (thousands of paths are too long for one command-line argument)."""
    from bench.common import bench_settings

    overrides = {"embedding": {"backend": backend}} if backend else {}
    name = Path(index_dir).relative_to(WORK).as_posix()
    corpus = Path(f"{index_dir}.files").read_text(encoding="utf-8").splitlines()
    return bench_settings(name, [Path(p) for p in corpus], **overrides)


def _write_corpus(index_dir: Path, corpus: list[Path]) -> None:
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{index_dir}.files").write_text("\n".join(map(str, corpus)) + "\n", encoding="utf-8")


def child_build(index_dir: str, backend: str | None = None) -> dict:
    from bot.wiring import run_index

    settings = _settings(index_dir, backend)
    started = time.perf_counter()
    summary = run_index(settings, rebuild=True, show_progress=True)
    seconds = time.perf_counter() - started
    return {
        "chunks": summary.chunks,
        "files": summary.files,
        "seconds": seconds,
        "chunks_per_s": summary.chunks / seconds,
    }


def child_built(index_dir: str) -> dict:
    """What an earlier build of this level recorded (`serve --reuse`); no peak RSS."""
    from index.generations import live_generation
    from index.manifest import Manifest

    manifest = Manifest.load(live_generation(Path(index_dir)))
    return {
        "chunks": manifest.chunk_count,
        "files": len(manifest.files),
        "seconds": manifest.build_seconds,
        "chunks_per_s": manifest.chunk_count / manifest.build_seconds,
    }


def child_plain(index_dir: str) -> dict:
    """Plain sentence-transformers float32 over the chunk texts of a built index."""
    from index.chunk_store import ChunkStore
    from index.e5_convert import materialize_e5
    from index.embeddings import DEFAULT_CACHE_DIR, _sentence_transformer
    from index.generations import live_generation

    texts = ["passage: " + c.search_text for c in ChunkStore(live_generation(Path(index_dir)))]
    cache = Path(os.environ.get("ZONEBOT_CACHE_DIR", DEFAULT_CACHE_DIR))
    model = _sentence_transformer(str(materialize_e5(cache)), local_files_only=True)
    started = time.perf_counter()
    model.encode(texts, batch_size=32, normalize_embeddings=True)
    seconds = time.perf_counter() - started
    return {"chunks": len(texts), "seconds": seconds, "chunks_per_s": len(texts) / seconds}


def child_serve(index_dir: str, questions: int) -> dict:
    from bot.wiring import build_engine

    settings = _settings(index_dir)
    started = time.perf_counter()
    engine = build_engine(settings)
    engine.warm_up()
    load_s = time.perf_counter() - started
    asked = library_questions(questions)
    ask_ms, search_ms = [], []
    for question in asked:
        started = time.perf_counter()
        engine.answer(question)
        ask_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        engine.retriever.search(question)
        search_ms.append((time.perf_counter() - started) * 1000)
    return {
        "chunks": len(engine.retriever),
        "dense_kind": engine.retriever.index.dense.kind,
        "load_s": load_s,
        "questions": len(asked),
        "ask_p50_ms": percentile(ask_ms, 50),
        "ask_p95_ms": percentile(ask_ms, 95),
        "search_p50_ms": percentile(search_ms, 50),
    }


def child_recall(index_dir: str, questions: int) -> dict:
    """HNSW (default settings) against exact search over the same vectors."""
    import numpy as np

    from bot.wiring import make_embedder
    from index.dense import DenseIndex, DenseSettings
    from index.generations import live_generation

    settings = _settings(index_dir)
    vectors = DenseIndex.load(live_generation(Path(index_dir))).vectors()
    flat = DenseIndex.from_vectors(vectors, DenseSettings(kind="flat"))
    started = time.perf_counter()
    hnsw = DenseIndex.from_vectors(vectors, DenseSettings(kind="hnsw"))
    hnsw_build_s = time.perf_counter() - started
    embedder = make_embedder(settings)
    queries = embedder.encode(library_questions(questions), "query")
    recalls, times = [], {"flat": [], "hnsw": []}
    for query in queries:
        found = {}
        for name, index in (("flat", flat), ("hnsw", hnsw)):
            started = time.perf_counter()
            found[name] = {i for i, _ in index.search(query, 10)}
            times[name].append((time.perf_counter() - started) * 1000)
        recalls.append(len(found["flat"] & found["hnsw"]) / len(found["flat"]))
    return {
        "recall_at_10": float(np.mean(recalls)),
        "hnsw_build_s": hnsw_build_s,
        "flat_p50_ms": percentile(times["flat"], 50),
        "hnsw_p50_ms": percentile(times["hnsw"], 50),
    }


CHILDREN = {
    "build": child_build,
    "built": child_built,
    "plain": child_plain,
    "serve": child_serve,
    "recall": child_recall,
}


# ----------------------------------------------------------------------------- parent


def library_questions(limit: int) -> list[str]:
    """Questions people wrote about library documents (the pool's training part)."""
    rows = [json.loads(line) for path in QUESTION_FILES for line in path.open(encoding="utf-8")]
    return [row["question"] for row in rows][:limit]


def law_library_subset(chunks: int | None) -> list[Path]:
    """Whole files in a fixed shuffled order (every kind of law mixed) until about
    `chunks` chunks; every file for None."""
    files = sorted(LAW_LIBRARY.rglob("*.md"))
    if chunks is None:
        return files
    random.Random(13).shuffle(files)
    chosen, chars = [], 0
    for path in files:
        if chars >= chunks * CHARS_PER_CHUNK:
            break
        chosen.append(path)
        chars += len(path.read_text(encoding="utf-8"))
    return chosen


def throughput(args: argparse.Namespace) -> dict:
    rows, results = [], {}
    for backend in args.backends:
        index_dir = WORK / "scale" / f"throughput-{backend}"
        _write_corpus(index_dir, [args.corpus])
        results[backend] = measured("build", index_dir=index_dir, backend=backend)
    plain = measured("plain", index_dir=WORK / "scale" / f"throughput-{args.backends[0]}")
    for backend, built in results.items():
        ratio = built["chunks_per_s"] / plain["chunks_per_s"]
        built["ratio_to_plain_fp32"] = ratio
        rows.append(
            [backend, built["chunks"], f"{built['seconds']:.1f}", f"{built['chunks_per_s']:.1f}",
             f"{ratio:.2f}", f"{built['peak_rss_mb']:.0f}"]
        )  # fmt: skip
    rows.append(
        ["plain sentence-transformers fp32 (encode only)", plain["chunks"],
         f"{plain['seconds']:.1f}", f"{plain['chunks_per_s']:.1f}", "1.00",
         f"{plain['peak_rss_mb']:.0f}"]
    )  # fmt: skip
    print(f"\nwhole-build throughput over {args.corpus} ({_load()})")
    print_table(["backend", "chunks", "seconds", "chunks/s", "× plain fp32", "peak RSS MB"], rows)
    return {"builds": results, "plain": plain}


def serve(args: argparse.Namespace) -> dict:
    total_chars = sum(len(p.read_text(encoding="utf-8")) for p in law_library_subset(None))
    rows, results = [], {}
    for level in args.levels:
        files = law_library_subset(None if level == "all" else int(level))
        index_dir = WORK / "scale" / f"law-{level}"
        _write_corpus(index_dir, files)
        if args.reuse and (index_dir / "CURRENT").is_file():
            built = measured("built", index_dir=index_dir)
        else:
            built = measured("build", index_dir=index_dir, backend=args.backend)
        chars = sum(len(p.read_text(encoding="utf-8")) for p in files)
        built["whole_library_minutes"] = built["seconds"] * total_chars / chars / 60
        served = measured("serve", index_dir=index_dir, questions=args.questions)
        recall = measured("recall", index_dir=index_dir, questions=args.questions)
        results[level] = {"build": built, "serve": served, "recall": recall}
        rows.append(
            [level, len(files), built["chunks"], f"{built['chunks_per_s']:.1f}",
             f"{built['whole_library_minutes']:.0f}", f"{built['peak_rss_mb']:.0f}",
             served["dense_kind"], f"{served['ask_p50_ms']:.1f}", f"{served['ask_p95_ms']:.1f}",
             f"{served['search_p50_ms']:.1f}", f"{served['peak_rss_mb']:.0f}",
             f"{recall['recall_at_10']:.4f}", f"{recall['flat_p50_ms']:.2f}",
             f"{recall['hnsw_p50_ms']:.2f}"]
        )  # fmt: skip
        print(f"level {level}: {json.dumps(results[level], ensure_ascii=False)}", flush=True)
    print(f"\nlaw_library ({total_chars:,} characters) by level ({_load()})")
    print_table(
        ["level", "files", "chunks", "build chunks/s", "whole library min (extrapolated)",
         "build peak RSS MB", "dense", "ask p50 ms", "ask p95 ms", "search p50 ms",
         "serving peak RSS MB", "HNSW recall@10", "flat p50 ms", "HNSW p50 ms"],
        rows,
    )  # fmt: skip
    return results


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} {five:.1f} {fifteen:.1f}, {os.cpu_count()} CPUs"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        params = json.loads(sys.argv[3])
        print(json.dumps(CHILDREN[sys.argv[2]](**params)))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parts = parser.add_subparsers(dest="part", required=True)
    build = parts.add_parser("throughput", help="build chunks/s per backend vs plain fp32")
    build.add_argument("--corpus", type=Path, default=POLICY_DOCS)
    build.add_argument("--backends", nargs="+", choices=BACKENDS, default=BACKENDS)
    scale = parts.add_parser("serve", help="build, ask latency, RSS, HNSW recall by size")
    scale.add_argument("--levels", nargs="+", default=["2000", "20000", "all"])
    scale.add_argument("--backend", choices=BACKENDS, help="embedding.backend (default: auto)")
    scale.add_argument("--questions", type=int, default=300, help="library questions asked")
    scale.add_argument(
        "--reuse", action="store_true", help="serve a level's existing index (its recorded build)"
    )
    parser.add_argument("--json", action="store_true", help="also print all numbers as JSON")
    args = parser.parse_args()
    require_shared()
    result = throughput(args) if args.part == "throughput" else serve(args)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
