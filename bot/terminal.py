"""The command line's output formats: answers with their sources, search results."""

from __future__ import annotations

from bot.answer.results import Answer
from index.metadata import STATUS_LABELS, DocumentInfo

MISSING_LABELS = {"issuer": "制定机关", "level": "效力级别", "region": "地区", "date": "日期"}
DATE_LABELS = (("adopted", "通过"), ("promulgated", "公布"), ("effective", "施行"))
DATE_LABELS += (("amended", "修正"),)


def render_terminal(answer: Answer) -> str:
    """The CLI format: the answer, a blank line, then each source with its indented quote."""
    lines = [answer.text]
    if answer.notice:
        lines.append(f"（{answer.notice}）")
    if answer.scope and answer.found:
        lines.append(f"（范围：{answer.scope}）")
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


def format_documents(infos: list[DocumentInfo]) -> str:
    """`zonebot documents`: each document with its provenance and what is missing, then
    how many documents have each field."""
    by_id = {i.doc_id: i for i in infos}
    lines = []
    for n, info in enumerate(infos, start=1):
        lines.append(f"{n:>3}. 《{info.title}》  ({info.source})")
        facts = [info.issuer, info.level, info.region]
        facts += [
            f"{label} {getattr(info, name)}" for name, label in DATE_LABELS if getattr(info, name)
        ]
        status = STATUS_LABELS[info.status]
        if info.replaced_by in by_id:
            newer = by_id[info.replaced_by]
            status += f"（→《{newer.title}》{newer.version_date or ''}）"
        lines.append("     " + " · ".join([*(f for f in facts if f), status]))
        if info.missing():
            lines.append("     缺少：" + "、".join(MISSING_LABELS[m] for m in info.missing()))
    known = {m: sum(m not in i.missing() for i in infos) for m in MISSING_LABELS}
    counts = "、".join(f"{MISSING_LABELS[m]} {k}" for m, k in known.items())
    lines.append(f"共 {len(infos)} 份文档；已知{counts} 份。")
    return "\n".join(lines)
