"""How many statements a piece of SQL holds, read the way PostgreSQL's lexer reads it (no database needed).

Configured SQL must be exactly one statement: ``statement_count`` lets the configuration refuse more when it
is loaded. It splits at semicolons outside string literals (``'...'``, ``E'...'``), quoted identifiers
(``"..."``), dollar-quoted strings (``$tag$...$tag$``) and comments (``--`` and nested ``/* */``); an empty
statement (a trailing ``;``) does not count. It is a first line of defence: golive also runs configured SQL
through the extended query protocol, which PostgreSQL refuses to give more than one statement.
"""

from __future__ import annotations

import re

_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$")


def statement_count(text: str) -> int:
    """The number of non-empty statements in ``text``."""
    count, content, index, end = 0, False, 0, len(text)
    while index < end:
        char = text[index]
        if text.startswith("--", index):
            newline = text.find("\n", index)
            index = end if newline < 0 else newline + 1
        elif text.startswith("/*", index):
            index = _skip_block_comment(text, index)
        elif char == "'":
            index = _skip_quoted(text, index, "'", backslashes=_escape_string(text, index))
            content = True
        elif char == '"':
            index = _skip_quoted(text, index, '"', backslashes=False)
            content = True
        elif char == "$" and not _in_word(text, index) and (tag := _DOLLAR_TAG.match(text, index)):
            closing = text.find(tag.group(0), tag.end())
            index = end if closing < 0 else closing + len(tag.group(0))
            content = True
        elif char == ";":
            count += content
            content = False
            index += 1
        else:
            content = content or not char.isspace()
            index += 1
    return count + content


def _in_word(text: str, index: int) -> bool:
    """Whether the character before ``index`` continues an identifier (``a$b``) or a parameter (``$1``)."""
    return index > 0 and (text[index - 1].isalnum() or text[index - 1] in "_$")


def _escape_string(text: str, index: int) -> bool:
    """Whether the quote at ``index`` opens an ``E'...'`` string, where backslash escapes a quote."""
    return index > 0 and text[index - 1] in "eE" and not _in_word(text, index - 1)


def _skip_quoted(text: str, index: int, quote: str, backslashes: bool) -> int:
    """The index after the literal or identifier opening at ``index`` (a doubled quote is one quote)."""
    position = index + 1
    while position < len(text):
        char = text[position]
        if backslashes and char == "\\":
            position += 2
        elif char == quote:
            if text.startswith(quote, position + 1):
                position += 2
            else:
                return position + 1
        else:
            position += 1
    return len(text)


def _skip_block_comment(text: str, index: int) -> int:
    """The index after the (possibly nested) comment opening at ``index``."""
    depth, position = 0, index
    while position < len(text):
        if text.startswith("/*", position):
            depth += 1
            position += 2
        elif text.startswith("*/", position):
            depth -= 1
            position += 2
            if depth == 0:
                return position
        else:
            position += 1
    return len(text)
