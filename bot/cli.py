"""The `zonebot` command line: thin wrappers that parse, call one library function, format.

Heavy libraries (torch, faiss) are imported inside the commands, so `zonebot --help`
answers instantly.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from bot import __version__
from bot.config import Settings, config_path_from, load_settings
from bot.logging_setup import setup_logging
from index.errors import ZonebotError

EXAMPLES = """示例 / examples:
  zonebot index
  zonebot documents
  zonebot ask 营口片区去年规模以上工业总产值是多少
  zonebot chat
  zonebot search 营口片区去年规模以上工业总产值是多少
  zonebot eval ../shared/eval/seed_dev.jsonl"""
CHAT_HELP = (
    "zonebot 对话：输入问题后回车。/scope 北京 只看北京的文件（/scope off 取消），"
    "/new 开始新对话，/quit 或 Ctrl-D 退出。"
)
ASK_HINT = (
    "提示：每次 `zonebot ask` 都要重新加载模型；连续提问请用 `zonebot chat`，"
    "批量提问用 `zonebot ask --jsonl FILE`。(Tip: use `chat` or `--jsonl` for many questions.)"
)
ASK_BURST_SECONDS = 120.0  # a second `ask` within this time gets ASK_HINT
ASK_STAMP = ".last_ask"  # in data_dir: when `ask` last ran
EXIT_ERROR = 1
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a closed pipe


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # `serve` logs one line per question at INFO; the other commands only warnings.
    verbose = getattr(args, "verbose", False) or args.handler is cmd_serve
    level = logging.INFO if verbose else logging.WARNING
    setup_logging(level, getattr(args, "log_format", "text"))
    try:
        settings = load_settings(config_path_from(getattr(args, "config", None)))
        return args.handler(args, settings) or 0
    except ZonebotError as exc:
        print(f"错误: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("\n已中断。(interrupted)", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `zonebot ask … | head -1`: the reader left, nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return EXIT_BROKEN_PIPE


def _global_options(suppress: bool) -> argparse.ArgumentParser:
    """Options every command takes, before or after the command name. The command's copy
    defaults to SUPPRESS, so it never overwrites a value given before the command."""
    default = {"default": argparse.SUPPRESS} if suppress else {}
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--config",
        metavar="PATH",
        help="配置文件 config file (default: $ZONEBOT_CONFIG or ./config.yaml)",
        **default,
    )
    options.add_argument(
        "-v", "--verbose", action="store_true", help="show progress logs", **default
    )
    options.add_argument(
        "--log-format",
        choices=("text", "json"),
        help="log lines as text (default) or one JSON object each, for log shippers",
        **({"default": "text"} | default),
    )
    return options


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zonebot",
        description="zonebot: 基于文档、带引用的中文问答。Cited answers to Chinese questions "
        "about policy documents.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_global_options(suppress=False)],
    )
    parser.add_argument("--version", action="version", version=f"zonebot {__version__}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    for add in (
        _add_index,
        _add_documents,
        _add_search,
        _add_ask,
        _add_chat,
        _add_evaluate,
        _add_serve,
    ):
        add(commands)
    return parser


def _command(
    commands: argparse._SubParsersAction, name: str, handler: Callable, **texts: str
) -> argparse.ArgumentParser:
    """One subcommand with its help texts, dispatched to `handler(args, settings)`."""
    parser = commands.add_parser(name, parents=[_global_options(suppress=True)], **texts)
    parser.set_defaults(handler=handler)
    return parser


def _text_or_batch(parser: argparse.ArgumentParser, name: str, help: str, batch: str) -> None:
    """Either one text on the command line or a --jsonl batch, not both."""
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument(name, nargs="?", help=help)
    target.add_argument("--jsonl", metavar="FILE", help=batch)


def _add_index(commands: argparse._SubParsersAction) -> None:
    index = _command(
        commands,
        "index",
        cmd_index,
        help="build or update the index",
        description="Build or update the index "
        "from corpus.paths. Only new or changed files are processed unless --rebuild.",
    )
    index.add_argument("--rebuild", action="store_true", help="rebuild everything from scratch")
    index.add_argument("--json", action="store_true", help="print the summary as JSON")


def _add_documents(commands: argparse._SubParsersAction) -> None:
    documents = _command(
        commands,
        "documents",
        cmd_documents,
        help="list the indexed documents with their metadata",
        description="Each indexed document with its issuing body, level, region, dates "
        "and status (in force, amended, replaced, repealed), and what could not be found. "
        "Fix or add metadata in documents.yaml next to the corpus, then `zonebot index`.",
    )
    documents.add_argument("--json", action="store_true", help="print JSON")


def _add_search(commands: argparse._SubParsersAction) -> None:
    search = _command(
        commands,
        "search",
        cmd_search,
        help="show the passages that best match a query",
        description="Hybrid (dense + BM25) search over the index.",
    )
    _text_or_batch(
        search,
        "query",
        "查询 the query text",
        "batch: one JSON object with 'query' (or 'question') per line; '-' reads stdin",
    )
    search.add_argument("-k", type=int, default=None, help="number of results (default 5)")
    search.add_argument(
        "--mode",
        choices=("hybrid", "dense", "keyword"),
        default="hybrid",
        help="retrieval mode (default hybrid)",
    )
    search.add_argument("--json", action="store_true", help="print JSON")


def _add_ask(commands: argparse._SubParsersAction) -> None:
    ask = _command(
        commands,
        "ask",
        cmd_ask,
        help="answer a question with cited sources",
        description="Answer from the indexed documents, quoting them with numbered sources; "
        "says 未在文档中找到相关内容 when they do not hold the answer.",
    )
    _text_or_batch(
        ask,
        "question",
        "问题 the question",
        "batch: one JSON object with 'question' or one plain-text question per line; "
        "'-' reads stdin; prints one JSON answer per line",
    )
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")


def _add_chat(commands: argparse._SubParsersAction) -> None:
    _command(
        commands,
        "chat",
        cmd_chat,
        help="interactive chat in the terminal (follow-up questions keep their context)",
        description="Ask questions one after another; a short follow-up such as "
        "“那同比增长多少?” is read in the context of the previous question. "
        "/scope NAME answers only from one place's or law's documents (/scope off clears it), "
        "/new starts over, /quit or Ctrl-D leaves.",
    )


def _add_evaluate(commands: argparse._SubParsersAction) -> None:
    evaluate = _command(
        commands,
        "eval",
        cmd_eval,
        help="measure answer quality on golden question files",
        description="Ask every question of JSONL files in the ../shared/eval format "
        "(question, answers, evidence, doc, type) and report answer, evidence, document "
        "and refusal accuracy, false refusals and latency, per question type, with the "
        "failing questions.",
    )
    evaluate.add_argument("files", nargs="+", metavar="FILE", help="golden JSONL files")
    evaluate.add_argument("--json", action="store_true", help="print the report as JSON")


def _add_serve(commands: argparse._SubParsersAction) -> None:
    _command(
        commands,
        "serve",
        cmd_serve,
        help="run the Telegram bot",
        description="Run the Telegram bot (long polling, or a webhook when "
        "telegram.webhook.enabled). The token comes from $TELEGRAM_BOT_TOKEN or "
        "telegram.token_file. Stop with Ctrl-C or SIGTERM.",
    )


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    from bot.wiring import run_index

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


def cmd_documents(args: argparse.Namespace, settings: Settings) -> int:
    from bot.terminal import format_documents
    from index.document_store import live_documents

    infos = live_documents(settings.index.dir)
    if args.json:
        rows = [{**i.to_dict(), "missing": i.missing()} for i in infos]
        print(json.dumps({"documents": rows}, ensure_ascii=False))
    else:
        print(format_documents(infos))
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from bot.logging_setup import event
    from bot.telegram.app import run_bot
    from bot.wiring import (
        build_engine,
        corpus_warning,
        follow_job,
        index_job,
        make_embedder,
        reindex_job,
    )

    embedder = make_embedder(settings)
    if settings.index.read_only:  # a replica: the build node rebuilds and ships the index
        follow = follow_job(settings, embedder)
        run_bot(settings, lambda: build_engine(settings, embedder), follow=follow)
        return 0
    if warning := corpus_warning(settings):
        logging.getLogger("bot.serve").warning(event("corpus_changed", detail=warning))
    run_bot(
        settings,
        lambda: build_engine(settings, embedder),
        reindex_job(settings, embedder),
        index_job(settings, embedder),
    )
    return 0


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from bot.terminal import render_terminal
    from bot.wiring import build_engine, corpus_warning

    if not args.jsonl:
        _hint_if_repeated(settings.data_dir / ASK_STAMP)
    _warn(corpus_warning(settings))
    engine = build_engine(settings)
    if args.jsonl:
        return run_jsonl(
            args.jsonl, ("question",), lambda q: engine.answer(q).to_dict(), plain_text=True
        )
    answer = engine.answer(args.question)
    print(
        json.dumps(answer.to_dict(), ensure_ascii=False) if args.json else render_terminal(answer)
    )
    return 0


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    import readline  # noqa: F401 - gives input() line editing and history

    from bot.answer.conversation import Conversation
    from bot.terminal import render_terminal
    from bot.wiring import build_engine, corpus_warning

    _warn(corpus_warning(settings))
    print("正在加载模型和索引… (loading)", file=sys.stderr)
    engine = build_engine(settings)
    conversation = Conversation(settings.answer.history_turns)
    print(CHAT_HELP)
    while True:
        try:
            line = input("问> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if line in ("/quit", "/exit", "/q"):
            return 0
        if line == "/new":
            conversation.clear()
            print("（已开始新的对话）")
        elif line == "/scope" or line.startswith("/scope "):
            print(engine.scoper.choose(conversation, line.removeprefix("/scope")))
        elif line:
            print(render_terminal(engine.answer(line, conversation)), end="\n\n")


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from bot.answer.evaluate import evaluate, format_report, load_questions
    from bot.wiring import build_engine

    questions = load_questions(Path(f) for f in args.files)
    engine = build_engine(settings)
    engine.warm_up()  # the first call pays one-off costs; keep them out of latency
    report = evaluate(engine.answer, questions)
    print(json.dumps(report.to_dict(), ensure_ascii=False) if args.json else format_report(report))
    return 0


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from bot.terminal import format_results
    from bot.wiring import open_retriever
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


def _warn(warning: str | None) -> None:
    if warning:
        print(f"注意: {warning}", file=sys.stderr)


def _hint_if_repeated(stamp: Path, now: float | None = None) -> None:
    """Suggest `chat`/`--jsonl` when `ask` ran a moment ago (each run reloads the model).
    The stamp is best effort: an unwritable data directory only loses the hint."""
    now = time.time() if now is None else now
    try:
        last = stamp.stat().st_mtime
    except OSError:
        last = None
    if last is not None and 0 <= now - last < ASK_BURST_SECONDS:
        print(ASK_HINT, file=sys.stderr)
    try:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.touch()
        os.utime(stamp, (now, now))
    except OSError:
        pass


def run_jsonl(
    path: str, keys: tuple[str, ...], handle: Callable[[str], dict], plain_text: bool = False
) -> int:
    """Batch mode: one JSON result line per input line; a bad line yields an error line.
    With `plain_text`, a line that is not a JSON object is itself the text."""
    with _input_lines(path) as lines:
        for number, line in enumerate(lines, start=1):
            result = _jsonl_line(line, number, keys, handle, plain_text)
            print(json.dumps(result, ensure_ascii=False), flush=True)
    return 0


def _jsonl_line(
    line: str, number: int, keys: tuple[str, ...], handle: Callable, plain_text: bool = False
) -> dict:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        if not plain_text or line.lstrip().startswith("{"):
            return {"line": number, "error": f"invalid JSON: {exc.msg}"}
        record = None
    if plain_text and not isinstance(record, dict):
        text = line.strip()
    else:
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
