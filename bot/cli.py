"""The `zonebot` command line: thin wrappers that parse, call one library function, format.

Heavy libraries (torch, faiss) are imported inside the commands, so `zonebot --help`
answers instantly.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from bot import __version__
from bot.config import Settings, config_path_from, load_settings
from index.errors import ZonebotError

EXAMPLES = """示例 / examples:
  zonebot index
  zonebot search 营口片区去年规模以上工业总产值是多少"""
EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = load_settings(config_path_from(args.config))
        return args.handler(args, settings) or 0
    except ZonebotError as exc:
        print(f"错误: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("\n已中断。(interrupted)", file=sys.stderr)
        return EXIT_INTERRUPTED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zonebot",
        description="zonebot: 基于文档、带引用的中文问答。Cited answers to Chinese questions "
        "about policy documents.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="配置文件 config file (default: $ZONEBOT_CONFIG or ./config.yaml)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="show progress logs")
    parser.add_argument("--version", action="version", version=f"zonebot {__version__}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    index = commands.add_parser(
        "index",
        help="build or update the index",
        description="Build or update the index "
        "from corpus.paths. Only new or changed files are processed unless --rebuild.",
    )
    index.add_argument("--rebuild", action="store_true", help="rebuild everything from scratch")
    index.add_argument("--json", action="store_true", help="print the summary as JSON")
    index.set_defaults(handler=cmd_index)

    search = commands.add_parser(
        "search",
        help="show the passages that best match a query",
        description="Hybrid (dense + BM25) search over the index.",
    )
    target = search.add_mutually_exclusive_group(required=True)
    target.add_argument("query", nargs="?", help="查询 the query text")
    target.add_argument(
        "--jsonl",
        metavar="FILE",
        help="batch: one JSON object with 'query' (or 'question') per line; '-' reads stdin",
    )
    search.add_argument("-k", type=int, default=None, help="number of results (default 5)")
    search.add_argument(
        "--mode",
        choices=("hybrid", "dense", "keyword"),
        default="hybrid",
        help="retrieval mode (default hybrid)",
    )
    search.add_argument("--json", action="store_true", help="print JSON")
    search.set_defaults(handler=cmd_search)

    serve = commands.add_parser(
        "serve",
        help="run the Telegram bot",
        description="Run the Telegram bot (long polling, or a webhook when "
        "telegram.webhook.enabled). The token comes from $TELEGRAM_BOT_TOKEN or "
        "telegram.token_file. Stop with Ctrl-C or SIGTERM.",
    )
    serve.set_defaults(handler=cmd_serve)
    return parser


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    from bot.runtime import run_index

    summary = run_index(settings, rebuild=args.rebuild, show_progress=not args.json)
    if args.json:
        print(json.dumps(summary.to_dict(), ensure_ascii=False))
        return 0
    print(summary.describe())
    if summary.notice:
        print(summary.notice)
    for name, reason in summary.skipped.items():
        print(f"  跳过 {name}: {reason}")
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from bot.answer import AnswerEngine
    from bot.runtime import run_index
    from bot.telegram_app import run_bot

    def reindex(progress: Callable[[str], None]) -> tuple[AnswerEngine, str]:
        summary = run_index(settings, on_progress=progress)
        return AnswerEngine.from_settings(settings), summary.describe()

    run_bot(settings, lambda: AnswerEngine.from_settings(settings), reindex)
    return 0


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from bot.runtime import open_retriever
    from index.retrieve import validate_query

    if args.k is not None and not 1 <= args.k <= 100:
        raise ZonebotError("-k 必须在 1 到 100 之间。(-k must be between 1 and 100.)")
    if args.query is not None:
        validate_query(args.query, settings.retrieval.max_query_chars)
    retriever = open_retriever(settings)

    def search(query: str) -> list[dict]:
        return [hit.to_dict() for hit in retriever.search(query, args.k, mode=args.mode)]

    if args.jsonl:
        return run_jsonl(
            args.jsonl, ("query", "question"), lambda q: {"query": q, "results": search(q)}
        )
    results = search(args.query)
    if args.json:
        print(json.dumps({"query": args.query, "results": results}, ensure_ascii=False))
    else:
        print(format_results(results))
    return 0


def format_results(results: list[dict]) -> str:
    if not results:
        return "没有匹配的片段。(no matching passages)"
    lines = []
    for r in results:
        place = " · ".join(p for p in (r["section"], r["location"]) if p)
        lines.append(f"{r['rank']}. [{r['score']:.4f}] 《{r['title']}》 · {place}  ({r['source']})")
        lines.append(f"   {r['text']}")
    return "\n".join(lines)


def run_jsonl(path: str, keys: tuple[str, ...], handle: Callable[[str], dict]) -> int:
    """Batch mode: one JSON result line per input line; a bad line yields an error line."""
    with _input_lines(path) as lines:
        for number, line in enumerate(lines, start=1):
            print(
                json.dumps(_jsonl_line(line, number, keys, handle), ensure_ascii=False), flush=True
            )
    return 0


def _jsonl_line(line: str, number: int, keys: tuple[str, ...], handle: Callable) -> dict:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return {"line": number, "error": f"invalid JSON: {exc.msg}"}
    text = next((record.get(k) for k in keys if isinstance(record, dict) and k in record), None)
    if not isinstance(text, str):
        return {"line": number, "error": f"line needs a string field {' or '.join(keys)}"}
    try:
        return handle(text)
    except ZonebotError as exc:
        return {"line": number, keys[0]: text, "error": str(exc)}


@contextmanager
def _input_lines(path: str) -> Iterator[Iterator[str]]:
    """Non-blank lines of a file, or of stdin for '-'."""
    if path == "-":
        yield (line for line in sys.stdin if line.strip())
        return
    try:
        stream = open(path, encoding="utf-8")  # noqa: SIM115 - closed below; open errors reported
    except OSError as exc:
        raise ZonebotError(f"无法读取 {path}: {exc.strerror}") from None
    with stream:
        yield (line for line in stream if line.strip())
