"""The command line's output formats: answers with their sources, search results."""

from __future__ import annotations

from bot.answer.results import Answer


def render_terminal(answer: Answer) -> str:
    """The CLI format: the answer, a blank line, then each source with its indented quote."""
    lines = [answer.text]
    if answer.notice:
        lines.append(f"（{answer.notice}）")
    if not answer.found and answer.suggestions:
        lines += ["", "可以看看这些文件："]
        lines += [f"  《{title}》" for title in answer.suggestions]
    for citation in answer.citations or answer.related:
        lines += ["", citation.label()]
        quote = f"“{citation.quote}”".splitlines()
        lines += [f"    {line}" for line in quote]
    return "\n".join(lines)


def format_results(results: list[dict]) -> str:
    """`zonebot search` hits, one numbered line each with the passage beneath."""
    if not results:
        return "没有匹配的片段。(no matching passages)"
    lines = []
    for r in results:
        place = " · ".join(p for p in (r["section"], r["location"]) if p)
        lines.append(f"{r['rank']}. [{r['score']:.4f}] 《{r['title']}》 · {place}  ({r['source']})")
        lines.append(f"   {r['text']}")
    return "\n".join(lines)
