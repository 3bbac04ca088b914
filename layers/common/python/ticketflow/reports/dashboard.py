"""The supervisors' dashboard: a page in Chinese or English that holds no data, and its assets.

The page is public (a browser cannot attach a bearer token to a page load), so it carries
nothing but words: dashboard.js takes the supervisor's token from the URL fragment
(``#token=`` or Cognito's ``#id_token=``) or a sign-in form, and draws every figure from
``reports/*`` fetched with it. Nothing is inline: the script, the styles and Chart.js are
files served beside the page, so the Content-Security-Policy allows only 'self'. The words
the script needs travel in a JSON data block, which is never executed (script-src does not
apply to it).
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from html import escape
from importlib import resources
from typing import Any

from ticketflow.errors import NotFound

LANGUAGES = ("zh", "en")
KPIS = ("created", "resolved", "backlog", "frt_p50", "aht", "fcr", "sla", "csat", "nps", "auto_reply")
CHARTS = ("volume", "frt", "sla", "csat", "ages", "scores")
PERIODS = ("1", "7", "30", "90")  # days, ending today
# The agents table: the report's field per column, after the agent's name.
COLUMNS = (
    "assigned",
    "resolved",
    "first_response_p50_s",
    "handle_time_mean_s",
    "fcr_rate",
    "sla_compliance",
    "csat_mean",
    "open_now",
)

# Only these files are served; any other name is a 404.
ASSETS = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
    "chart.umd.min.js": "text/javascript; charset=utf-8",  # Chart.js 4, see assets/README.md
}

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the token may sit in the fragment for a moment
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "X-Robots-Tag": "noindex, nofollow",
}
ASSET_HEADERS = {
    "Cache-Control": "public, max-age=86400",  # the page asks for ?v=<content hash>
    "X-Content-Type-Options": "nosniff",
}

TEXT: dict[str, dict[str, Any]] = {
    "zh": {
        "html_lang": "zh-CN",
        "title": "客服运营看板",
        "switch": ("English", "en"),
        "tagline": "工单、时效、SLA 与满意度，数据来自报表接口",
        "signin_title": "主管登录",
        "signin_help": "粘贴主管或管理员的访问令牌（ID token）。本地环境可运行 "
        "ticketflow token --sub sup-1 --role supervisor 获取。令牌只保存在本标签页中。",
        "token_label": "访问令牌",
        "signin": "进入看板",
        "signout": "退出登录",
        "period": "统计周期",
        "periods": {"1": "今天", "7": "近 7 天", "30": "近 30 天", "90": "近 90 天"},
        "team": "团队",
        "all_teams": "全部团队",
        "refresh": "刷新",
        "auto_refresh": "每 60 秒自动刷新",
        "today": "今日概览",
        "trends": "趋势",
        "agents": "坐席表现",
        "csv": "下载 CSV",
        "csv_of": {"summary": "下载今日概览 CSV", "timeseries": "下载趋势 CSV", "agents": "下载坐席表现 CSV"},
        "noscript": "此看板需要启用 JavaScript。",
        "footer": "指标口径见 reports/definitions。百分位数为直方图插值，均值为精确值。",
        "kpis": {
            "created": "新建工单",
            "resolved": "已解决",
            "backlog": "积压工单",
            "frt_p50": "首次响应时间 FRT（P50）",
            "aht": "平均处理时长 AHT",
            "fcr": "一次解决率 FCR",
            "sla": "SLA 达标率",
            "csat": "满意度 CSAT",
            "nps": "净推荐值 NPS",
            "auto_reply": "自动回复率",
        },
        "charts": {
            "volume": "工单量与日末积压",
            "frt": "首次响应时间（分钟）",
            "sla": "SLA 达标率（%）",
            "csat": "满意度均分与答卷数",
            "ages": "当前积压账龄",
            "scores": "整体满意度评分分布",
        },
        "agent": "坐席",
        "total": "合计",
        "columns": {
            "assigned": "分配",
            "resolved": "解决",
            "first_response_p50_s": "FRT P50",
            "handle_time_mean_s": "AHT",
            "fcr_rate": "FCR",
            "sla_compliance": "SLA",
            "csat_mean": "CSAT",
            "open_now": "当前未结",
        },
        "agents_caption": "所选周期内每位坐席的工作量、时效与满意度；合计行为所选范围内的全部工单。",
        # Used by dashboard.js only
        "locale": "zh-CN",
        "units": {"s": "{n} 秒", "min": "{n} 分钟", "h": "{n} 小时", "d": "{n} 天"},
        "out_of_5": "{n} / 5",
        "sub": {
            "created": "已分配 {assigned} 次",
            "resolved": "已关闭 {closed} · 重开 {reopened}",
            "backlog": "最早创建于 {oldest}",
            "backlog_none": "没有积压",
            "frt_p50": "均值 {mean} · P90 {p90} · {count} 单",
            "aht": "{count} 次解决",
            "fcr": "{fcr} / {first} 单首次即解决",
            "sla": "达标 {met} · 违约 {breached}",
            "csat": "{answered} 份答卷 · 回收率 {rate}",
            "nps": "推荐 {promoters} · 中立 {passives} · 贬损 {detractors}",
            "auto_reply": "{auto} / {created} 单由知识库回复",
        },
        "series": {
            "created": "新建",
            "resolved": "已解决",
            "backlog": "日末积压",
            "mean": "均值",
            "p50": "P50",
            "p90": "P90",
            "first_response": "首次响应",
            "next_response": "后续响应",
            "resolution": "解决时限",
            "all": "总体",
            "csat": "CSAT 均分",
            "answered": "答卷数",
            "open": "积压工单",
            "scores": "评分人数",
        },
        "ages": {"lt": "不足 {n} 天", "range": "{a}–{b} 天", "ge": "{n} 天及以上"},
        "score": "{n} 分",
        "aria": {
            "volume": "{period}：新建 {created} 单，解决 {resolved} 单；最近日末积压 {backlog} 单。",
            "frt": "{period}首次响应时间：P50 最近为 {p50}，P90 最近为 {p90}。",
            "sla": "{period} SLA 总体达标率最近为 {all}。",
            "csat": "{period}共 {answered} 份答卷，满意度均分最近为 {mean}。",
            "ages": "当前积压按账龄：{list}。",
            "scores": "{period}整体满意度评分人数：{list}。",
        },
        "teams": {"presales": "售前咨询", "logistics": "订单物流", "aftersales": "售后服务"},
        "period_of": {"1": "今天", "n": "近 {n} 天"},
        "updated": "更新于 {time}",
        "today_of": "{date}（{tz}）",
        "none": "—",
        "no_agents": "所选范围内没有坐席。",
        "loading": "正在加载数据…",
        "msg": {
            "unauthorized": "登录已失效或令牌无效（401），请重新登录。",
            "forbidden": "此看板仅限主管和管理员查看（403）。请使用主管账号登录。",
            "failed": "数据加载失败：{message}",
            "network": "无法连接到服务器，稍后将自动重试。",
        },
    },
    "en": {
        "html_lang": "en",
        "title": "Support dashboard",
        "switch": ("中文", "zh"),
        "tagline": "Tickets, response times, SLA and satisfaction, from the reports API",
        "signin_title": "Supervisor sign-in",
        "signin_help": "Paste a supervisor's or admin's access token (ID token). Locally, "
        "ticketflow token --sub sup-1 --role supervisor prints one. The token is kept in this tab only.",
        "token_label": "Access token",
        "signin": "Open the dashboard",
        "signout": "Sign out",
        "period": "Period",
        "periods": {"1": "Today", "7": "Last 7 days", "30": "Last 30 days", "90": "Last 90 days"},
        "team": "Team",
        "all_teams": "All teams",
        "refresh": "Refresh",
        "auto_refresh": "Refreshes every 60 s",
        "today": "Today",
        "trends": "Trends",
        "agents": "Agents",
        "csv": "Download CSV",
        "csv_of": {
            "summary": "Download today's figures as CSV",
            "timeseries": "Download the trends as CSV",
            "agents": "Download the agents table as CSV",
        },
        "noscript": "This dashboard needs JavaScript.",
        "footer": "How each figure is defined: reports/definitions. Percentiles are interpolated "
        "from histograms; means are exact.",
        "kpis": {
            "created": "Tickets created",
            "resolved": "Resolved",
            "backlog": "Backlog",
            "frt_p50": "First response time (FRT, p50)",
            "aht": "Average handle time (AHT)",
            "fcr": "First contact resolution (FCR)",
            "sla": "SLA compliance",
            "csat": "Satisfaction (CSAT)",
            "nps": "Net Promoter Score (NPS)",
            "auto_reply": "Auto-reply rate",
        },
        "charts": {
            "volume": "Tickets and backlog at end of day",
            "frt": "First response time (minutes)",
            "sla": "SLA compliance (%)",
            "csat": "CSAT mean and surveys answered",
            "ages": "Backlog by age, now",
            "scores": "Overall satisfaction scores",
        },
        "agent": "Agent",
        "total": "Total",
        "columns": {
            "assigned": "Assigned",
            "resolved": "Resolved",
            "first_response_p50_s": "FRT p50",
            "handle_time_mean_s": "AHT",
            "fcr_rate": "FCR",
            "sla_compliance": "SLA",
            "csat_mean": "CSAT",
            "open_now": "Open now",
        },
        "agents_caption": "Each agent's work, response times and satisfaction over the period; "
        "the totals row covers every ticket in scope.",
        "locale": "en-GB",
        "units": {"s": "{n} s", "min": "{n} min", "h": "{n} h", "d": "{n} d"},
        "out_of_5": "{n} / 5",
        "sub": {
            "created": "assignments {assigned}",
            "resolved": "{closed} closed · {reopened} reopened",
            "backlog": "oldest created {oldest}",
            "backlog_none": "nothing waiting",
            "frt_p50": "mean {mean} · p90 {p90} · {count} tickets",
            "aht": "resolutions {count}",
            "fcr": "{fcr} of {first} solved at first contact",
            "sla": "{met} met · {breached} breached",
            "csat": "answered {answered} · response rate {rate}",
            "nps": "promoters {promoters} · passives {passives} · detractors {detractors}",
            "auto_reply": "{auto} of {created} answered from the knowledge base",
        },
        "series": {
            "created": "Created",
            "resolved": "Resolved",
            "backlog": "Backlog at end of day",
            "mean": "Mean",
            "p50": "p50",
            "p90": "p90",
            "first_response": "First response",
            "next_response": "Next response",
            "resolution": "Resolution",
            "all": "All targets",
            "csat": "CSAT mean",
            "answered": "Surveys answered",
            "open": "Open tickets",
            "scores": "Answers",
        },
        "ages": {"lt": "under {n} d", "range": "{a}–{b} d", "ge": "{n} d and older"},
        "score": "{n}",
        "aria": {
            "volume": "{period}: {created} created, {resolved} resolved; backlog at the latest day's end {backlog}.",
            "frt": "{period}: latest first response time p50 {p50}, p90 {p90}.",
            "sla": "{period}: latest SLA compliance over all targets {all}.",
            "csat": "{period}: {answered} surveys answered; latest CSAT mean {mean}.",
            "ages": "Backlog by age now: {list}.",
            "scores": "{period}: overall satisfaction answers per score: {list}.",
        },
        "teams": {"presales": "Pre-sales", "logistics": "Orders & logistics", "aftersales": "After-sales"},
        "period_of": {"1": "Today", "n": "Last {n} days"},
        "updated": "Updated {time}",
        "today_of": "{date} ({tz})",
        "none": "—",
        "no_agents": "No agents in scope.",
        "loading": "Loading…",
        "msg": {
            "unauthorized": "The sign-in has expired or the token is not valid (401). Please sign in again.",
            "forbidden": "This dashboard is for supervisors and admins only (403). Sign in as a supervisor.",
            "failed": "Could not load the figures: {message}",
            "network": "Cannot reach the server; retrying shortly.",
        },
    },
}


def language(requested: str | None, accept_language: str | None) -> str:
    """?lang= wins, then the browser's first language; Chinese by default (as the survey page)."""
    if requested in LANGUAGES:
        return requested
    first = (accept_language or "").split(",")[0].strip().lower()
    return "en" if first.startswith("en") else "zh"


@cache
def _read(name: str) -> str:
    return resources.files("ticketflow.reports").joinpath("assets", name).read_text("utf-8")


def asset(name: str) -> tuple[str, str]:
    """(text, content type) of an allowed asset; NotFound for any other name."""
    if name not in ASSETS:
        raise NotFound(f"no dashboard asset named {name!r}", details={"known": sorted(ASSETS)})
    return _read(name), ASSETS[name]


@cache
def _src(name: str) -> str:
    version = hashlib.sha256(_read(name).encode()).hexdigest()[:12]
    return f"dashboard/assets/{name}?v={version}"  # relative: /dashboard locally, /<stage>/dashboard on AWS


# The words dashboard.js uses (the rest are in the HTML already).
_SCRIPT_WORDS = (
    "locale",
    "units",
    "out_of_5",
    "sub",
    "series",
    "ages",
    "score",
    "aria",
    "teams",
    "period_of",
    "updated",
    "today_of",
    "none",
    "no_agents",
    "loading",
    "msg",
    "total",
)


def _config(lang: str) -> str:
    words = {k: TEXT[lang][k] for k in _SCRIPT_WORDS}
    data = {"lang": lang, "kpis": KPIS, "charts": CHARTS, "columns": COLUMNS, "text": words}
    # A data block ends at "</script": no "<" may appear raw inside it.
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


@cache
def page(lang: str) -> str:
    t = TEXT[lang]
    label, code = t["switch"]
    periods = "".join(
        f'<input type="radio" name="period" id="period-{days}" value="{days}"{" checked" if days == "7" else ""}>'
        f'<label for="period-{days}">{escape(t["periods"][days])}</label>'
        for days in PERIODS
    )
    cards = "".join(
        f'<article class="card" aria-labelledby="kpi-{kpi}-label"><h3 class="card-label" id="kpi-{kpi}-label">'
        f'{escape(t["kpis"][kpi])}</h3><p class="card-value" data-kpi="{kpi}">{t["none"]}</p>'
        f'<p class="card-sub" data-sub="{kpi}"></p></article>'
        for kpi in KPIS
    )
    charts = "".join(
        f'<figure class="chart"><figcaption id="chart-{chart}-title">{escape(t["charts"][chart])}</figcaption>'
        f'<div class="chart-box"><canvas id="chart-{chart}" data-chart="{chart}" role="img" '
        f'aria-label="{escape(t["charts"][chart])}"></canvas></div></figure>'
        for chart in CHARTS
    )
    heads = "".join(f'<th scope="col" data-col="{c}">{escape(t["columns"][c])}</th>' for c in COLUMNS)

    def csv(report: str) -> str:
        return (
            f'<button type="button" class="link-button" data-csv="{report}" '
            f'aria-label="{escape(t["csv_of"][report])}">{escape(t["csv"])}</button>'
        )

    return (
        f'<!doctype html><html lang="{t["html_lang"]}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="robots" content="noindex,nofollow"><link rel="icon" href="data:,">'
        f"<title>{escape(t['title'])} · ticketflow</title>"
        f'<link rel="stylesheet" href="{_src("dashboard.css")}">'
        f'<script src="{_src("chart.umd.min.js")}" defer></script>'
        f'<script src="{_src("dashboard.js")}" defer></script>'
        f'<script type="application/json" id="i18n">{_config(lang)}</script></head>'
        '<body data-state="loading"><header class="top"><div class="brand">'
        f'<h1>{escape(t["title"])}</h1><p class="meta"><span>{escape(t["tagline"])}</span>'
        '<span id="updated"></span></p></div><nav class="top-nav">'
        f'<a href="?lang={code}" lang="{TEXT[code]["html_lang"]}" hreflang="{TEXT[code]["html_lang"]}">{label}</a>'
        f'<button type="button" id="signout" class="link-button" hidden>{escape(t["signout"])}</button>'
        "</nav></header><main>"
        f'<noscript><p class="alert">{escape(t["noscript"])}</p></noscript>'
        '<p id="status" class="status" role="status" aria-live="polite"></p>'
        '<section id="signin" class="panel signin" aria-labelledby="signin-title" hidden>'
        f'<h2 id="signin-title">{escape(t["signin_title"])}</h2>'
        '<p id="signin-message" class="alert" role="alert" hidden></p>'
        f'<p class="hint">{escape(t["signin_help"])}</p><form id="signin-form">'
        f'<label for="token">{escape(t["token_label"])}</label>'
        '<textarea id="token" name="token" rows="4" required autocomplete="off" spellcheck="false"></textarea>'
        f'<button type="submit" class="primary">{escape(t["signin"])}</button></form></section>'
        '<div id="board" hidden><form id="controls" class="controls">'
        f'<fieldset class="periods"><legend>{escape(t["period"])}</legend><div class="segmented">{periods}</div>'
        f'</fieldset><div class="field"><label for="team">{escape(t["team"])}</label>'
        f'<select id="team" name="team"><option value="">{escape(t["all_teams"])}</option></select></div>'
        f'<div class="actions"><button type="button" id="refresh" class="primary">{escape(t["refresh"])}</button>'
        f'<span class="hint">{escape(t["auto_refresh"])}</span></div></form>'
        '<section class="block" aria-labelledby="today-title"><div class="block-head">'
        f'<h2 id="today-title">{escape(t["today"])} <span id="today-date" class="muted"></span></h2>'
        f'{csv("summary")}</div><div class="cards">{cards}</div></section>'
        '<section class="block" aria-labelledby="trends-title"><div class="block-head">'
        f'<h2 id="trends-title">{escape(t["trends"])} <span data-period-label class="muted"></span></h2>'
        f'{csv("timeseries")}</div><div class="charts">{charts}</div></section>'
        '<section class="block" aria-labelledby="agents-title"><div class="block-head">'
        f'<h2 id="agents-title">{escape(t["agents"])} <span data-period-label class="muted"></span></h2>'
        f'{csv("agents")}</div><div class="table-wrap"><table class="agents">'
        f'<caption class="visually-hidden">{escape(t["agents_caption"])}</caption>'
        f'<thead><tr><th scope="col">{escape(t["agent"])}</th>{heads}</tr></thead>'
        '<tbody id="agents-body"></tbody><tfoot id="agents-foot"></tfoot></table></div></section></div>'
        f'</main><footer class="foot"><p>{escape(t["footer"])}</p></footer></body></html>'
    )
