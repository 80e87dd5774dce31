"""How Sakai keeps a person's name, so the bridge can tell a name it set from a changed one.

``BaseUserEdit.setFirstName`` and ``setLastName`` pass every name through
``FormattedText.convertFormattedTextToPlaintext`` (SAK-20226): ``<br>`` becomes a newline, every
``<...>`` is removed and character references are decoded; nothing is trimmed. So the IdP's
``Smith <Jr>`` is stored, and read back by ``getUserDisplayName``, as ``Smith `` (plain text, not
HTML-escaped). ``getDisplayName`` joins first and last name with a space when there is a first
name, and falls back to the EID when both are empty.
"""

from __future__ import annotations

import html
import re

_BR = re.compile(r"<\s*br.*?>")
_TAG = re.compile(r"<.*?>", re.DOTALL)


def stored_name(name: str) -> str:
    """A first or last name as Sakai stores it."""
    return html.unescape(_TAG.sub("", _BR.sub("\n", name)))


def display_name(first_name: str, last_name: str, eid: str) -> str:
    """What ``getUserDisplayName`` answers for an account given these names by the bridge."""
    first, last = stored_name(first_name), stored_name(last_name)
    return (f"{first} {last}" if first else last) or eid
