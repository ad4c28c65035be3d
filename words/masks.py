"""Glob masks (`nick!user@host`, `*` and `?`), as bans and WHO use them.

Not IRC-only: the realm matches bans with these for every front end.
"""

from __future__ import annotations

import functools
import re


@functools.lru_cache(maxsize=4096)
def mask_to_regex(mask: str) -> re.Pattern[str]:
    """Compile a glob mask ('*' any run, '?' one char) to an anchored regex.

    Everything else is literal: '[' and '\\' occur in nicks, so no
    fnmatch-style classes or escapes.  Case-sensitive; callers casefold
    both sides first.
    """
    out: list[str] = []
    prev_star = False
    for c in mask:
        if c == "*":
            # Runs of '*' collapse to one, to avoid pointless backtracking.
            if not prev_star:
                out.append(".*")
            prev_star = True
            continue
        prev_star = False
        out.append("." if c == "?" else re.escape(c))
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def match_mask(mask: str, target: str) -> bool:
    if "*" not in mask and "?" not in mask:
        return mask == target
    return mask_to_regex(mask).match(target) is not None
