"""The massage-therapy FAQ domain: data, loading, matching, tips and safety.

Pure and synchronous; never imports telegram.
"""

from faq.loader import FaqError, load_faq
from faq.matcher import Matcher, MatchResult, Tier
from faq.models import Entry, Faq, Tip

__all__ = ["Entry", "Faq", "FaqError", "MatchResult", "Matcher", "Tier", "Tip", "load_faq"]
