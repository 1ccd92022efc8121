"""Refuse feed documents whose DTD could make a parser fetch files or explode.

Why this exists on top of feedparser: feedparser 6 already removes the ENTITY
declarations it finds at the start of a line and keeps only "safe" ones (a literal
value), and tells expat not to load external entities. But its search is a regex:
declarations written on one line with the DOCTYPE reach expat as they are (whose
amplification limit then stops a "billion laughs", but only past 8 MB of output),
and a long "safe" literal referenced many times still multiplies a 10 MB body in
its lenient parser, which has no limit at all.

What it does: `check_entities(body)` reads the document prolog with expat
(declarations only: it stops at the first element and never expands or loads
anything) and raises `ParseError` when the DTD declares
- an external general entity (SYSTEM or PUBLIC: file://, http://...),
- an internal parameter entity (it can write further declarations),
- a general entity whose value refers to other entities (the expansion pattern),
- a general entity whose value is longer than `MAX_ENTITY_CHARS` (amplification).
External parameter entities (the W3C entity sets old feeds name) are allowed: no
parser here ever loads them. When the prolog itself is not well-formed, every
``<!ENTITY ...>`` of the document is checked with a regex instead.
What it does not do: parse the feed, or judge anything but entity declarations.
"""

from __future__ import annotations

import re
from xml.parsers import expat

from bot.errors import ParseError

MAX_ENTITY_CHARS = 16

_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xef\xbb\xbf", "utf-8"),
)
# How "<" looks in the first bytes of a document without a byte order mark.
_WIDE_STARTS = (
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<", "utf-16-be"),
    (b"<\x00", "utf-16-le"),
)
_DECLARATION = re.compile(r"<!ENTITY\b([^>]*)>")
_DECL_PARTS = re.compile(r"\s*(%\s+)?([^\s%\"']+)\s*(.*)", re.DOTALL)
_CHAR_REF = re.compile(r"&#(?:[0-9]+|x[0-9a-fA-F]+);")


class _Stop(Exception):
    pass


def _text(body: bytes) -> str:
    """The document as text, well enough to read its markup.

    Wide encodings are recognised by their byte order mark or the shape of "<";
    anything else is read as Latin-1, which keeps every ASCII markup character of
    every ASCII-compatible encoding where it is.
    """
    for prefix, codec in _BOMS:
        if body.startswith(prefix):
            return body[len(prefix) :].decode(codec, errors="replace")
    for prefix, codec in _WIDE_STARTS:
        if body.startswith(prefix):
            return body.decode(codec, errors="replace")
    return body.decode("latin-1")


def _judge(name: str, parameter: bool, value: str | None, external: str | None) -> str | None:
    """Why this declaration is refused, or None when it is harmless."""
    if external is not None:
        return None if parameter else f"the external entity &{name}; ({external[:100]})"
    if parameter:
        return f"the parameter entity %{name};"
    if value is not None and ("&" in value or "%" in value):
        return f"the entity &{name}; built from other entities"
    if value is not None and len(value) > MAX_ENTITY_CHARS:
        return f"the entity &{name}; of {len(value)} characters"
    return None


def _with_expat(text: str) -> str | None:
    problems: list[str] = []

    def on_entity(
        name: str,
        is_parameter: int,
        value: str | None,
        base: str | None,
        system_id: str | None,
        public_id: str | None,
        notation: str | None,
    ) -> None:
        problem = _judge(name, bool(is_parameter), value, system_id or public_id)
        if problem:
            problems.append(problem)
            raise _Stop

    def on_element(*_: object) -> None:
        raise _Stop  # the prolog is over: nothing after it can declare entities

    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.EntityDeclHandler = on_entity
    parser.StartElementHandler = on_element
    try:
        parser.Parse(text, True)
    except _Stop:
        pass
    except expat.ExpatError:
        return _with_regex(text)
    return problems[0] if problems else None


def _with_regex(text: str) -> str | None:
    for declaration in _DECLARATION.finditer(text):
        parts = _DECL_PARTS.match(declaration.group(1))
        if parts is None:
            continue
        parameter, name, rest = bool(parts.group(1)), parts.group(2), parts.group(3).strip()
        if rest.startswith(("SYSTEM", "PUBLIC")):
            problem = _judge(name, parameter, None, rest.split(None, 1)[-1])
        else:
            value = _CHAR_REF.sub("x", rest.strip("\"'"))
            problem = _judge(name, parameter, value, None)
        if problem:
            return problem
    return None


def check_entities(body: bytes) -> None:
    """Raise `ParseError` for a dangerous DTD (see the module docstring)."""
    text = _text(body)
    if "<!ENTITY" not in text:  # nearly every feed: no declarations at all
        return
    problem = _with_expat(text)
    if problem:
        raise ParseError(
            f"refused: the document's DTD declares {problem}, "
            "which could read files or exhaust memory (an XML entity attack?)"
        )
