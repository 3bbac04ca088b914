"""The knowledge base: articles, matching a message to one, filling its answer, order status.

```python
kb = KnowledgeBase(default_articles())  # once per container (per knowledge-base version)
match = kb.match(text, language="zh", subcategory="logistics")  # None below kb.threshold
answer = render_answer(match.article, {"customer_name": ..., "order_status": status.describe("zh")})
```
"""

from ticketflow.knowledge.articles import Article, default_articles, default_escalation_cues
from ticketflow.knowledge.matching import KnowledgeBase, KnowledgeMatch, from_document
from ticketflow.knowledge.orders import OrderStatus, OrderStatusProvider, extract_order_number
from ticketflow.knowledge.providers import TableOrderStatusProvider
from ticketflow.knowledge.templating import render_answer

__all__ = [
    "Article",
    "KnowledgeBase",
    "KnowledgeMatch",
    "OrderStatus",
    "OrderStatusProvider",
    "TableOrderStatusProvider",
    "default_articles",
    "default_escalation_cues",
    "extract_order_number",
    "from_document",
    "render_answer",
]
