"""The survey page: one small HTML document per state, in Chinese or English.

Mobile first and accessible: each question is a fieldset with a legend, the scores are real
radio buttons (keyboard and screen readers work as usual), errors are listed at the top with
links to their questions and repeated beside them. It works without JavaScript (a plain form
POST); with it, a character counter follows the comment and a second click does not post
twice. Style and script are inline and allowed by their hashes in a strict
Content-Security-Policy (no 'unsafe-inline', nothing loaded from elsewhere). Nothing about
the customer appears: only the ticket number.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from ticketflow.surveys.answers import COMMENT_MAX
from ticketflow.surveys.rules import DIMENSIONS

LANGUAGES = ("zh", "en")

TEXT: dict[str, dict[str, Any]] = {
    "zh": {
        "html_lang": "zh-CN",
        "title": "服务满意度评价",
        "intro": "工单 {number}：请根据本次服务体验打分，1 分为非常不满意，5 分为非常满意。",
        "required": "带 * 的问题为必答。",
        "dimensions": {
            "attitude": "服务态度",
            "speed": "响应速度",
            "resolution": "问题解决效果",
            "overall": "整体满意度",
        },
        "scale": ["非常不满意", "不满意", "一般", "满意", "非常满意"],
        "nps": "您有多大可能向朋友或同事推荐我们？（选填）",
        "nps_ends": ("0 = 完全不可能", "10 = 非常可能"),
        "comment": "其他意见或建议（选填）",
        "comment_hint": f"最多 {COMMENT_MAX} 字",
        "submit": "提交评价",
        "switch": ("English", "en"),
        "errors_title": "请修改以下问题后再提交：",
        "error_score": "请为「{label}」选择 1 到 5 分",
        "error_nps": "推荐意愿请选择 0 到 10 分",
        "error_comment": f"留言最多 {COMMENT_MAX} 字（现在 {{n}} 字）",
        "thanks": ("感谢您的评价！", "您的反馈已经提交，我们会据此改进服务。"),
        "answered": ("您已经评价过了", "每个工单只能评价一次，感谢您的反馈。"),
        "expired": ("评价链接已过期", "评价链接在有效期内才能使用。如需反馈，请联系客服。"),
        "unknown": ("链接无效", "请检查链接是否完整，或联系客服。"),
    },
    "en": {
        "html_lang": "en",
        "title": "Rate our service",
        "intro": "Ticket {number}: please rate this service from 1 (very dissatisfied) to 5 (very satisfied).",
        "required": "Questions marked * are required.",
        "dimensions": {
            "attitude": "Service attitude",
            "speed": "Response speed",
            "resolution": "How well it was solved",
            "overall": "Overall satisfaction",
        },
        "scale": ["Very dissatisfied", "Dissatisfied", "Neutral", "Satisfied", "Very satisfied"],
        "nps": "How likely are you to recommend us to a friend or colleague? (optional)",
        "nps_ends": ("0 = not at all likely", "10 = extremely likely"),
        "comment": "Anything else you would like to tell us? (optional)",
        "comment_hint": f"Up to {COMMENT_MAX} characters",
        "submit": "Send my rating",
        "switch": ("中文", "zh"),
        "errors_title": "Please fix the following and send again:",
        "error_score": "Choose a score from 1 to 5 for “{label}”",
        "error_nps": "Choose a score from 0 to 10 for the recommendation question",
        "error_comment": f"The comment can be at most {COMMENT_MAX} characters (it has {{n}})",
        "thanks": ("Thank you!", "Your rating has been recorded. It helps us get better."),
        "answered": ("You have already answered", "Each ticket can be rated once. Thank you for your feedback."),
        "expired": ("This link has expired", "Survey links work for a limited time. To tell us more, contact us."),
        "unknown": ("This link is not valid", "Check that the whole link was copied, or contact us."),
    },
}

STYLE = """
*{box-sizing:border-box}
body{margin:0;font:16px/1.55 -apple-system,"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",system-ui,sans-serif;
color:#1f2328;background:#f4f5f7}
main{max-width:36rem;margin:0 auto;padding:1rem}
header{display:flex;justify-content:space-between;align-items:baseline;gap:1rem}
h1{font-size:1.4rem;margin:.5rem 0}
a{color:#0b57d0}
.card{background:#fff;border-radius:.75rem;padding:1rem 1.1rem;margin:.75rem 0;box-shadow:0 1px 2px rgba(0,0,0,.08)}
fieldset{border:0;margin:0;padding:0;min-width:0}
legend{float:left;width:100%;font-weight:600;padding:0;margin-bottom:.5rem}
.scale,.ends{clear:both}
.scale{display:grid;grid-template-columns:repeat(5,minmax(0,1fr));gap:.4rem}
.scale.nps{grid-template-columns:repeat(6,minmax(0,1fr))}
.opt{position:relative}
.opt input{position:absolute;opacity:0;width:1px;height:1px}
.opt label{height:100%;display:flex;flex-direction:column;align-items:center;justify-content:center;min-height:3.2rem;
padding:.35rem .15rem;border:1px solid #afb8c1;border-radius:.5rem;cursor:pointer;text-align:center;background:#fff}
.opt label b{font-size:1.15rem}
.opt label small{font-size:.68rem;line-height:1.2;color:#57606a}
.opt input:checked+label{background:#0b57d0;border-color:#0b57d0;color:#fff}
.opt input:checked+label small{color:#fff}
.opt input:focus-visible+label{outline:3px solid #f4b400;outline-offset:2px}
.ends{display:flex;justify-content:space-between;font-size:.8rem;color:#57606a;margin-top:.35rem}
textarea{width:100%;min-height:6rem;font:inherit;padding:.6rem;border:1px solid #afb8c1;border-radius:.5rem}
textarea:focus-visible{outline:3px solid #f4b400}
.hint{font-size:.85rem;color:#57606a;margin:.3rem 0 0}
.error{color:#b42318;font-weight:600;margin:.4rem 0 0}
.invalid{border-left:4px solid #b42318}
.summary{border:2px solid #b42318}
.summary h2{font-size:1rem;margin:0 0 .4rem}
button{width:100%;min-height:3rem;font:inherit;font-weight:600;color:#fff;background:#0b57d0;border:0;border-radius:.6rem;
margin:.5rem 0 2rem;cursor:pointer}
button:disabled{opacity:.6}
.done{text-align:center;padding:2rem 1.1rem}
.done p{color:#57606a}
@media (min-width:40rem){main{padding:2rem 1rem}.scale.nps{grid-template-columns:repeat(11,minmax(0,1fr))}}
""".strip()

SCRIPT = """
(function(){var f=document.getElementById("survey");if(!f)return;
var c=document.getElementById("comment"),o=document.getElementById("comment-count");
function u(){o.textContent=c.value.length+" / "+c.maxLength}
if(c&&o){c.addEventListener("input",u);u()}
f.addEventListener("submit",function(e){if(f.getAttribute("data-sent")){e.preventDefault();return}
f.setAttribute("data-sent","1");var b=f.querySelector("button[type=submit]");
b.disabled=true;b.setAttribute("aria-busy","true")})})();
""".strip()


def _sha256(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src {_sha256(STYLE)}; script-src {_sha256(SCRIPT)}; "
    "img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the link is a credential: never pass it on
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "X-Robots-Tag": "noindex, nofollow",
}


def language(requested: str | None, link_language: str | None, accept_language: str | None) -> str:
    if requested in LANGUAGES:
        return requested
    if link_language in LANGUAGES:
        return link_language
    first = (accept_language or "").split(",")[0].strip().lower()
    return "en" if first.startswith("en") else "zh"


def _document(lang: str, title: str, body: str, *, switch: bool = True) -> str:
    t = TEXT[lang]
    label, code = t["switch"]
    toggle = f'<a href="?lang={code}" lang="{TEXT[code]["html_lang"]}">{label}</a>' if switch else ""
    return (
        f'<!doctype html><html lang="{t["html_lang"]}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="robots" content="noindex,nofollow"><link rel="icon" href="data:,">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main><header><h1>{escape(t['title'])}</h1>{toggle}</header>{body}</main>"
        f"<script>{SCRIPT}</script></body></html>"
    )


def message(lang: str, kind: str) -> str:
    """The page for thanks, answered, expired or unknown."""
    heading, text = TEXT[lang][kind]
    body = f'<section class="card done" role="status"><h2>{escape(heading)}</h2><p>{escape(text)}</p></section>'
    return _document(lang, heading, body)


def form(
    lang: str,
    *,
    number: str,
    ask_nps: bool,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> str:
    """The questionnaire; after a refused post, with the customer's choices kept and each error
    named beside its question."""
    t, values, errors = TEXT[lang], values or {}, errors or {}
    parts = []
    if errors:
        items = "".join(f'<li><a href="#q-{name}">{escape(msg)}</a></li>' for name, msg in errors.items())
        parts.append(
            f'<section class="card summary" role="alert" aria-labelledby="errors-title">'
            f'<h2 id="errors-title">{escape(t["errors_title"])}</h2><ul>{items}</ul></section>'
        )
    intro = escape(t["intro"].format(number=number))
    parts.append(f'<p>{intro}</p><p class="hint">{escape(t["required"])}</p>')
    questions = []
    for dimension in DIMENSIONS:
        options = [(str(score), str(score), t["scale"][score - 1]) for score in range(1, 6)]
        questions.append(_choice(dimension, f"{t['dimensions'][dimension]} *", options, values, errors, required=True))
    if ask_nps:
        options = [(str(score), str(score), "") for score in range(0, 11)]
        low, high = t["nps_ends"]
        ends = f'<div class="ends" aria-hidden="true"><span>{escape(low)}</span><span>{escape(high)}</span></div>'
        questions.append(_choice("nps", t["nps"], options, values, errors, required=False, extra=ends, wide=True))
    comment_error = _error("comment", errors)
    invalid = ' aria-invalid="true"' if comment_error else ""
    questions.append(
        f'<div class="card{" invalid" if comment_error else ""}" id="q-comment">'
        f'<label for="comment"><b>{escape(t["comment"])}</b></label>'
        f'<textarea id="comment" name="comment" maxlength="{COMMENT_MAX}" rows="4" '
        f'aria-describedby="comment-hint{" comment-error" if comment_error else ""}"'
        f"{invalid}>{escape(values.get('comment', ''))}</textarea>"
        f'<p class="hint" id="comment-hint">{escape(t["comment_hint"])} <output id="comment-count" '
        f'for="comment" aria-live="polite"></output></p>{comment_error}</div>'
    )
    parts.append(
        f'<form id="survey" method="post" action="">{"".join(questions)}'
        f'<button type="submit">{escape(t["submit"])}</button></form>'
    )
    return _document(lang, t["title"], "".join(parts))


def _error(name: str, errors: dict[str, str]) -> str:
    if name not in errors:
        return ""
    return f'<p class="error" id="{name}-error">{escape(errors[name])}</p>'


def _choice(
    name: str,
    legend: str,
    options: list[tuple[str, str, str]],
    values: dict[str, str],
    errors: dict[str, str],
    *,
    required: bool,
    extra: str = "",
    wide: bool = False,
) -> str:
    error = _error(name, errors)
    radios = []
    for i, (value, big, small) in enumerate(options):
        ident = f"{name}-{value}"
        checked = " checked" if values.get(name) == value else ""
        required_attr = " required" if required and i == 0 else ""
        caption = f"<small>{escape(small)}</small>" if small else ""
        radios.append(
            f'<div class="opt"><input type="radio" id="{ident}" name="{name}" value="{value}"{checked}{required_attr}>'
            f'<label for="{ident}"><b>{escape(big)}</b>{caption}</label></div>'
        )
    described = f' aria-describedby="{name}-error" aria-invalid="true"' if error else ""
    return (
        f'<fieldset class="card{" invalid" if error else ""}" id="q-{name}"{described}>'
        f"<legend>{escape(legend)}</legend>"
        f'<div class="scale{" nps" if wide else ""}">{"".join(radios)}</div>{extra}{error}</fieldset>'
    )


def field_errors(lang: str, problems: Sequence[Mapping[str, Any]], values: dict[str, str]) -> dict[str, str]:
    """Pydantic's errors as one message per question, in the page's language."""
    t, found = TEXT[lang], {}
    for problem in problems:
        name = str(problem["loc"][0]) if problem.get("loc") else "form"
        if name in found:
            continue
        if name in DIMENSIONS:
            found[name] = t["error_score"].format(label=t["dimensions"][name])
        elif name == "nps":
            found[name] = t["error_nps"]
        elif name == "comment":
            found[name] = t["error_comment"].format(n=len(values.get("comment", "")))
    # In the order of the page, so the summary reads top to bottom.
    order = [*DIMENSIONS, "nps", "comment"]
    return {name: found[name] for name in order if name in found}
