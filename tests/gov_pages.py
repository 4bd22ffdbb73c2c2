# ruff: noqa: E501  (saved HTML keeps its long lines)
"""Five saved government web pages of different layouts, as the bench and tests use them.

Each page carries the furniture real sites have around the article: accessibility bars,
menus, breadcrumbs, meta lines with view counts and font-size switches, share bars,
related links, previous/next links and footers with ICP and 网站标识码 lines. `Page` says
what a reader sees as the title, the metadata, a question the article answers, and the
furniture text that must never reach a chunk.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Page:
    name: str
    html: str
    encoding: str
    title: str
    published: str
    issuer: str
    question: str
    answer: str
    furniture: tuple[str, ...]  # text of menus, meta lines and footers


_TOP_BAR = """<div class="top-bar"><a href="#">无障碍浏览</a> | <a href="#">长者模式</a> |
<a href="#">繁体</a> | <a href="#">登录</a> | <a href="#">注册</a></div>"""
_FOOTER = """<div class="footer"><p>主办单位：{office}　地址：{address}　邮编：115000</p>
<p>网站标识码：2108000011　<a href="#">辽ICP备05008542号-1</a>　辽公网安备 21080202000123号</p>
<p>版权所有：{office}　技术支持：营口市大数据中心</p></div>"""
_MENU = """<ul class="nav"><li><a href="/">首页</a></li><li><a href="/zwgk">政务公开</a></li>
<li><a href="/zwfw">政务服务</a></li><li><a href="/hdjl">互动交流</a></li>
<li><a href="/ztzl">专题专栏</a></li></ul>"""

COMMERCE = Page(
    name="commerce_notice.html",
    encoding="utf-8",
    title="关于开展2024年外贸企业出口信用保险补贴申报工作的通知",
    published="2024-03-05",
    issuer="辽宁省商务厅",
    question="出口信用保险补贴的申报截止日期是什么时候?",
    answer="2024年4月30日",
    furniture=(
        "无障碍浏览",
        "长者模式",
        "浏览次数",
        "打印本页",
        "关闭窗口",
        "字体",
        "ICP",
        "网站标识码",
        "当前位置",
        "专题专栏",
        "主办单位",
    ),
    html="""<!DOCTYPE html><html><head><meta charset="utf-8">
<title>关于开展2024年外贸企业出口信用保险补贴申报工作的通知_辽宁省商务厅</title></head><body>
"""
    + _TOP_BAR
    + """<div class="header"><img src="logo.png" alt="辽宁省商务厅">"""
    + _MENU
    + """</div>
<div class="location">当前位置：<a href="/">首页</a> &gt; <a href="/zwgk">政务公开</a> &gt; 通知公告</div>
<div class="article">
<div class="article-title">关于开展2024年外贸企业出口信用保险补贴申报工作的通知</div>
<div class="article-info">发布时间：2024-03-05 10:30　来源：辽宁省商务厅　浏览次数：1268
【字体：<a href="#">大</a> <a href="#">中</a> <a href="#">小</a>】 <a href="#">打印本页</a> <a href="#">关闭窗口</a></div>
<div class="article-content">
<p>各市商务局，沈抚示范区产业发展局：</p>
<p>为落实稳外贸政策，支持企业利用出口信用保险开拓国际市场，现就2024年外贸企业出口信用保险补贴申报工作通知如下。</p>
<p>一、补贴对象为在我省注册、2023年出口额在6500万美元以下的外贸企业。</p>
<p>二、补贴标准为企业实际缴纳短期出口信用保险保费的50%，单个企业最高不超过30万元。</p>
<p>三、申报截止日期为2024年4月30日，逾期不予受理。企业通过省商务厅网上政务服务平台提交申报材料。</p>
<p>联系人：王宁，联系电话：024-86904321。</p>
<p style="text-align:right">辽宁省商务厅</p><p style="text-align:right">2024年3月5日</p>
</div></div>"""
    + _FOOTER.format(office="辽宁省商务厅", address="沈阳市和平区北京街8号")
    + """
</body></html>""",
)

CITY_FEES = Page(
    name="city_fees.htm",
    encoding="gb2312",
    title="营口市口岸收费目录清单公示",
    published="2024-01-18",
    issuer="营口市发展和改革委员会",
    question="拖轮使用费的收费标准是多少?",
    answer="3000元",
    furniture=("分享到", "微信", "微博", "相关链接", "ICP", "网站标识码", "首页", "互动交流"),
    html="""<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">
<title>营口市口岸收费目录清单公示 - 通知公告 - 营口市人民政府</title></head><body>
<div id="head">"""
    + _MENU
    + """</div>
<div class="crumb"><a href="/">首页</a> &gt; <a href="#">通知公告</a></div>
<div class="main"><h1>营口市口岸收费目录清单公示</h1>
<div class="info"><span>发布日期：2024年1月18日</span><span>信息来源：营口市发展和改革委员会</span>
<span>阅读量：3051</span></div>
<div class="content" id="zoom">
<p>根据《关于进一步规范口岸收费的通知》要求，现将我市口岸经营服务性收费目录清单公示如下。</p>
<table border="1">
<tr><td rowspan="2">序号</td><td rowspan="2">收费项目</td><td colspan="2">收费标准</td></tr>
<tr><td>计费单位</td><td>金额</td></tr>
<tr><td>1</td><td>港口设施保安费</td><td>每吨</td><td>0.5元</td></tr>
<tr><td>2</td><td>船舶引航费</td><td>每米吃水</td><td>80元</td></tr>
<tr><td>3</td><td>拖轮使用费</td><td>每艘次</td><td>3000元</td></tr>
</table>
<p>以上收费标准自2024年2月1日起执行，收费单位应当在经营场所显著位置公示。</p>
</div>
<div class="share">分享到：<a href="#">微信</a> <a href="#">微博</a> <a href="#">QQ空间</a></div>
<div class="related"><h3>相关链接</h3><ul><li><a href="#">营口港集团</a></li><li><a href="#">营口海关</a></li></ul></div>
</div>"""
    + _FOOTER.format(office="营口市人民政府办公室", address="营口市站前区渤海大街西93号")
    + """
</body></html>""",
)

INTERPRETATION = Page(
    name="policy_interpretation.html",
    encoding="utf-8",
    title="《营口市促进跨境电子商务发展若干措施》政策解读",
    published="2023-11-20",
    issuer="营口市商务局",
    question="跨境电商企业新租用海外仓最高可以获得多少补贴?",
    answer="100万元",
    furniture=(
        "政策解读_营口市人民政府",
        "扫一扫",
        "手机版",
        "ICP",
        "网站标识码",
        "上一篇",
        "下一篇",
    ),
    html="""<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="SiteName" content="营口市人民政府"><meta name="ColumnName" content="政策解读">
<meta name="ArticleTitle" content="《营口市促进跨境电子商务发展若干措施》政策解读">
<meta name="PubDate" content="2023-11-20 09:00"><meta name="ContentSource" content="营口市商务局">
<title>《营口市促进跨境电子商务发展若干措施》政策解读_政策解读_营口市人民政府</title></head><body>
<header><div class="logo">营口市人民政府</div><nav>"""
    + _MENU
    + """</nav>
<div class="search"><input placeholder="请输入关键字"><button>搜索</button></div></header>
<main><article><h1>《营口市促进跨境电子商务发展若干措施》政策解读</h1>
<div class="meta">时间：2023-11-20　来源：营口市商务局</div>
<h2>一、出台背景</h2>
<p>为抢抓跨境电商发展机遇，推动外贸转型升级，市商务局起草了《营口市促进跨境电子商务发展若干措施》。</p>
<h2>二、主要内容</h2>
<p>（一）支持海外仓建设。对跨境电商企业新租用海外仓面积超过2000平方米的，按租金的30%给予补贴，最高100万元。</p>
<p>（二）支持主体培育。对年进出口额首次超过1亿元的跨境电商企业，一次性奖励50万元。</p>
<h2>三、施行时间</h2>
<p>本措施自2024年1月1日起施行，有效期三年。</p>
</article>
<div class="prev-next"><p>上一篇：<a href="#">营口市外贸稳增长政策解读</a></p>
<p>下一篇：<a href="#">营口市服务业扩大开放政策解读</a></p></div></main>
<aside><div class="qr">扫一扫在手机打开当前页</div><div>手机版</div></aside>
<footer>"""
    + _FOOTER.format(office="营口市人民政府办公室", address="营口市站前区渤海大街西93号")
    + """</footer>
</body></html>""",
)

CUSTOMS = Page(
    name="customs_announcement.htm",
    encoding="gbk",
    title="关于调整进口冷链食品检验检疫措施的公告",
    published="2024-02-26",
    issuer="大连海关",
    question="进口冷链食品预防性消毒由谁负责实施?",
    answer="收货人",
    furniture=("设为首页", "加入收藏", "友情链接", "ICP", "网站标识码", "打印", "关闭"),
    html="""<html><head><meta http-equiv="Content-Type" content="text/html; charset=gbk">
<title>大连海关--关于调整进口冷链食品检验检疫措施的公告</title></head>
<body><table width="980" align="center"><tr><td>
<table width="100%"><tr><td><a href="#">设为首页</a> | <a href="#">加入收藏</a></td>
<td align="right"><a href="#">首页</a> | <a href="#">海关概况</a> | <a href="#">政务公开</a> | <a href="#">在线服务</a></td></tr></table>
<table width="100%"><tr><td width="200" valign="top"><ul><li><a href="#">海关公告</a></li><li><a href="#">政策法规</a></li><li><a href="#">统计数据</a></li></ul></td>
<td valign="top">
<p align="center"><strong>关于调整进口冷链食品检验检疫措施的公告</strong></p>
<p align="center">大连海关公告2024年第3号</p>
<p align="center">发布时间：2024-02-26　来源：大连海关</p>
<p>　　为进一步优化口岸营商环境，提高进口冷链食品通关效率，现将有关事项公告如下：</p>
<p>　　一、进口冷链食品的预防性消毒由收货人按照有关规定自行或委托具备资质的第三方机构实施。</p>
<p>　　二、海关对进口冷链食品实施抽样检测，检测比例调整为批次的5%。</p>
<p>　　三、本公告自2024年3月1日起施行。</p>
<p>　　特此公告。</p>
<p align="right">大连海关</p><p align="right">2024年2月26日</p>
<p align="center"><a href="javascript:window.print()">【打印】</a> <a href="javascript:window.close()">【关闭】</a></p>
</td></tr></table>
<table width="100%"><tr><td>友情链接：<a href="#">海关总署</a> <a href="#">中国电子口岸</a></td></tr>
<tr><td align="center">版权所有：大连海关　辽ICP备12003362号　网站标识码：bm28000018</td></tr></table>
</td></tr></table></body></html>""",
)

NEWS = Page(
    name="ftz_news.html",
    encoding="utf-8",
    title="营口片区首单跨境人民币结算便利化业务落地",
    published="2024-04-12",
    issuer="营口日报",
    question="营口片区首单跨境人民币结算便利化业务金额是多少?",
    answer="1200万元",
    furniture=("热点新闻", "责任编辑", "打印本页", "关闭窗口", "ICP", "网站标识码", "字体", "分享"),
    html="""<!DOCTYPE html><html><head><meta charset="utf-8">
<meta name="description" content="营口片区新闻">
<title>营口片区首单跨境人民币结算便利化业务落地-中国（辽宁）自由贸易试验区营口片区</title></head><body>
"""
    + _TOP_BAR
    + """<div id="nav">"""
    + _MENU
    + """</div>
<div class="position">您现在的位置：首页 &gt; 片区动态</div>
<div class="container"><div class="left">
<h2 class="news-title">营口片区首单跨境人民币结算便利化业务落地</h2>
<div class="news-meta">2024-04-12 来源：营口日报 作者：李明 【字体：大 中 小】 <span class="share">分享到：</span></div>
<div class="news-body">
<p>4月11日，营口片区首单跨境人民币结算便利化业务在中国银行营口分行落地，结算金额1200万元。</p>
<p>该业务实现了优质企业跨境人民币收付"先收付后审核"，单笔业务办理时间由原来的半天缩短至20分钟。</p>
<p>下一步，片区将会同人民银行营口市分行扩大便利化政策覆盖面，力争年内惠及企业50家以上。</p>
<p class="editor">责任编辑：张华</p>
</div>
<div class="tools"><a href="#">打印本页</a> <a href="#">关闭窗口</a></div>
</div>
<div class="right"><h3>热点新闻</h3><ul>
<li><a href="#">营口片区召开制度创新推进会</a></li><li><a href="#">营口港集装箱吞吐量同比增长</a></li>
<li><a href="#">片区企业开办实现一日办结</a></li></ul></div></div>
"""
    + _FOOTER.format(office="中国（辽宁）自由贸易试验区营口片区管委会", address="营口市鲅鱼圈区")
    + """
</body></html>""",
)

PAGES = (COMMERCE, CITY_FEES, INTERPRETATION, CUSTOMS, NEWS)
