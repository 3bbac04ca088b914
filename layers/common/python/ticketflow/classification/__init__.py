"""Ticket classification: category, subcategory, priority, tags and reasons, from rules as data.

    rules = default_rules()              # defaults/classification.json, validated
    classifier = Classifier(rules)       # builds the matchers once per container
    result = classifier.classify(text, subject=None, customer_tier="standard")

Light on purpose (stdlib and pydantic only): importing it costs no dictionary load, and the
Traditional→Simplified table is read on the first message.
"""

from ticketflow.classification.engine import Classification, Classifier
from ticketflow.classification.rules import ClassificationRules, default_rules
from ticketflow.classification.text import detect_language, normalize

__all__ = ["Classification", "ClassificationRules", "Classifier", "default_rules", "detect_language", "normalize"]
