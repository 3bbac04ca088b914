"""The survey invitation in the customer's language: email (HTML and plain text) and SMS.

Chinese unless the ticket's language says English. The email has one clear call to action;
the link opens the form and records nothing (mail scanners open links).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape

from ticketflow.classification.text import detect_language
from ticketflow.config import settings
from ticketflow.models import Ticket


@dataclass(frozen=True)
class Invitation:
    subject: str
    text: str
    html: str
    sms: str


def language_of(ticket: Ticket) -> str:
    """ "en" or "zh": the language the channel gave, else the one the customer wrote in."""
    declared = (ticket.language or "").lower()
    if declared:
        return "en" if declared.startswith("en") else "zh"
    written = detect_language(f"{ticket.subject or ''}\n{ticket.description}")
    return "en" if written == "en" else "zh"


_COPY = {
    "zh": {
        "subject": "请为本次服务评分：工单 {number}",
        "greeting": "{name}，您好：",
        "lead": "您的工单 {number} 已处理完毕。请花一分钟告诉我们您对本次服务的评价，这将帮助我们做得更好。",
        "button": "为本次服务评分",
        "expires": "链接有效期至 {expires}，仅可提交一次。",
        "footer": "此邮件由系统自动发送，请勿直接回复。",
        "sms": "【客服中心】您的工单{number}已处理完毕，请为本次服务评分：{url}",
    },
    "en": {
        "subject": "How did we do? Ticket {number}",
        "greeting": "Hello {name},",
        "lead": "Your ticket {number} is closed. Could you take a minute to tell us how we did? "
        "Your answer helps us get better.",
        "button": "Rate our service",
        "expires": "The link works until {expires} and can be used once.",
        "footer": "This message was sent automatically; please do not reply to it.",
        "sms": "Your ticket {number} is closed. How did we do? Rate us: {url}",
    },
}


# Email clients ignore <style> blocks and classes unevenly: inline styles are what works.
_BODY = (
    "margin:0;padding:24px;background:#f4f5f7;color:#1f2328;"
    "font-family:-apple-system,'PingFang SC','Microsoft YaHei',Arial,sans-serif"
)
_CARD = "max-width:560px;margin:0 auto;background:#fff;border-radius:8px"
_LEAD = "padding:28px 28px 8px;font-size:16px;line-height:1.6"
_BUTTON = (
    "display:inline-block;padding:12px 24px;background:#0b57d0;color:#fff;text-decoration:none;"
    "border-radius:6px;font-size:16px;font-weight:600"
)
_SMALL = "padding:0 28px 28px;font-size:13px;line-height:1.5;color:#57606a"


def _local(moment: datetime, language: str) -> str:
    local = moment.astimezone(settings().zone)
    return local.strftime("%Y年%m月%d日 %H:%M") if language == "zh" else local.strftime("%d %b %Y, %H:%M")


def invitation(ticket: Ticket, *, url: str, expires: datetime, language: str) -> Invitation:
    copy = _COPY[language]
    fields = {"number": ticket.number, "name": ticket.customer.name, "expires": _local(expires, language), "url": url}
    lines = {key: value.format(**fields) for key, value in copy.items()}
    text = "\n\n".join(
        [lines["greeting"], lines["lead"], f"{lines['button']}: {url}", lines["expires"], lines["footer"]]
    )
    e = {key: escape(value) for key, value in lines.items()}
    html = (
        f'<!doctype html><html lang="{"zh-CN" if language == "zh" else "en"}"><head><meta charset="utf-8">'
        f"<title>{e['subject']}</title></head>"
        f'<body style="{_BODY}"><table role="presentation" width="100%" cellpadding="0" cellspacing="0" '
        f'style="{_CARD}"><tr><td style="{_LEAD}"><p>{e["greeting"]}</p><p>{e["lead"]}</p></td></tr>'
        f'<tr><td style="padding:8px 28px 24px"><a href="{escape(url)}" style="{_BUTTON}">{e["button"]}</a>'
        f'</td></tr><tr><td style="{_SMALL}"><p>{e["expires"]}</p>'
        f'<p style="word-break:break-all">{escape(url)}</p><p>{e["footer"]}</p></td></tr></table></body></html>'
    )
    return Invitation(subject=lines["subject"], text=text, html=html, sms=lines["sms"])
