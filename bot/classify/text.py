"""Text folding and pattern compilation for the region rules.

What it does: folds text so that matching ignores case and accents ("Türkiye" is
"turkiye", "Erdoğan" is "erdogan", "Łódź" is "lodz"), unifies apostrophes and
dashes ("Iran’s" is "iran's"), keeps a map back to the original text so a match
can be shown as the item wrote it, and turns the three kinds of rule pattern into
regular expressions or lookup keys:

- keywords: whole words or phrases. A phrase's spaces and hyphens match any run
  of spaces and hyphens ("Kim Jong Un" matches "Kim Jong-un"); a trailing ``*``
  makes a stem ("Syria*" matches "Syrian", "Syrians"). "Whole word" is judged
  only at edges written in scripts that separate words with spaces: an edge in
  CJK, kana, Hangul, Thai, Lao, Khmer or Myanmar matches inside a run of text
  (those scripts attach words and particles without spaces), so "中国" matches
  "中国政府" while "Iran" never matches "Tirana". A keyword regex is compiled in
  a cheap form for text with no character of those scripts, and in the exact
  form only when such a text comes (`KeywordRegex`).
- tags: exact keys, folded, trimmed, with runs of spaces, hyphens and
  underscores read as one space ("Asia-Pacific" is "asia pacific").
- url patterns: see `bot.classify.urls`.

What it does not do: decide regions or precedence (see `bot.classify.classifier`).
Every input is cut to a fixed size first, so no item decides how much time or
memory matching takes.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from itertools import accumulate

# Bounds on what one item can make us read. Real titles are under 300 chars and
# ledes under 1,000; anything past these caps is noise or an attack.
MAX_TEXT_CHARS = 4_000
MAX_TAGS = 64
MAX_TAG_CHARS = 200
MAX_URL_CHARS = 4_096
MAX_PATH_CHARS = 1_024  # real paths are under 300; this bounds url-pattern matching
# A keyword is a name or a phrase; one longer than this is a mistake in the config
# (and would nest the compiled regex too deeply).
MAX_KEYWORD_CHARS = 120

# Scripts written without spaces between words: an edge in one of them needs no
# word boundary. (Ranges: Thai, Lao, Myanmar, Khmer, Hangul Jamo, kana, Bopomofo,
# Hangul compatibility Jamo, CJK Ext. A, CJK, Hangul syllables, CJK compatibility,
# half-width kana, CJK Ext. B and later.)
_UNSPACED = (
    "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u1100-\u11ff\u3040-\u30ff\u3100-\u312f"
    "\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f"
    "\U00020000-\U0003134f"
)
# A word character of a script that separates words with spaces.
WORD_CHAR = f"[^\\W{_UNSPACED}]"
_WORD_RE = re.compile(WORD_CHAR)
_UNSPACED_RE = re.compile(f"[{_UNSPACED}]")
SEPARATOR = r"[\s\-]+"
_SEPARATOR_RE = re.compile(SEPARATOR)
_TAG_SEPARATOR_RE = re.compile(r"[\s\-_]+")
_ANY_WORD_RE = re.compile(r"\w")

# Characters NFKD leaves alone but a reader takes as another: apostrophes,
# dashes, and letters with a stroke rather than a combining accent.
_EXTRA = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201b": "'",
    "\u02bc": "'",
    "\u2032": "'",
    "\u00b4": "'",
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2015": "-",
    "\u2212": "-",
    "\ufe63": "-",
    "\uff0d": "-",
    "\u0131": "i",
    "\u0142": "l",
    "\u00f8": "o",
    "\u0111": "d",
    "\u0127": "h",
}
_CACHE_LIMIT = 50_000  # distinct characters remembered; beyond, computed each time


def _fold_char(char: str) -> str:
    decomposed = unicodedata.normalize("NFKD", char)
    bare = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return "".join(_EXTRA.get(c, c) for c in bare.casefold())


class _FoldTable(dict[int, str]):
    """A `str.translate` table that computes each character's fold on first use."""

    def __missing__(self, code: int) -> str:
        folded = _fold_char(chr(code))
        if len(self) < _CACHE_LIMIT:
            self[code] = folded
        return folded


_TABLE = _FoldTable()


def fold(text: str) -> str:
    """Case-, accent- and punctuation-fold `text` for matching."""
    if text.isascii():
        return text.lower()  # the same as the table gives for ASCII, much faster
    return _fold_mixed(text)


_NON_ASCII_RUNS = re.compile(r"([^\x00-\x7f]+)")


def _fold_mixed(text: str) -> str:
    """`fold` of a text with some non-ASCII characters: the fold is one character
    at a time, and `str.translate` is slow (a dictionary lookup for each), so the
    ASCII runs between them are lower-cased instead (the same fold, much faster)."""
    parts = _NON_ASCII_RUNS.split(text)  # ASCII runs at even places, others at odd
    parts[::2] = [part.lower() for part in parts[::2]]
    parts[1::2] = [part.translate(_TABLE) for part in parts[1::2]]
    return "".join(parts)


class Folded:
    """A text and its fold, with a way back from a span of the fold to the original."""

    __slots__ = ("_ends", "_one_to_one", "original", "text")

    def __init__(self, original: str) -> None:
        self.original = original
        self._ends: list[int] | None = None
        # Whether each character folds to exactly one: then a span of the fold is
        # the same span of the original. True of ASCII; of other text, found out
        # when a span is first shown.
        self._one_to_one: bool | None
        if original.isascii():
            self.text = original.lower()  # `fold`, in short
            self._one_to_one = True
        else:
            self.text = _fold_mixed(original)
            self._one_to_one = None

    def _offsets(self) -> list[int]:
        """Where each original character's fold ends in `text` (built once, on demand)."""
        if self._ends is None:
            folds = map(_TABLE.__getitem__, map(ord, self.original))
            self._ends = list(accumulate(map(len, folds)))
        return self._ends

    def original_span(self, start: int, end: int) -> str:
        """The original text behind `self.text[start:end]` (with any accents that
        follow its last character)."""
        if self._one_to_one is None:
            self._one_to_one = _folds_one_to_one(self.original)
        if self._one_to_one:
            return self.original[start:end]
        ends = self._offsets()
        first = bisect_right(ends, start)  # the first character whose fold passes start
        if first >= len(ends):
            return ""
        last = bisect_left(ends, end, lo=first)
        if last >= len(ends):
            return self.original[first:]
        last += 1
        while last < len(self.original) and not _TABLE[ord(self.original[last])]:
            last += 1  # combining marks fold to nothing: they belong to the span
        return self.original[first:last]


def _folds_one_to_one(text: str) -> bool:
    """Whether every character of `text` folds to exactly one character (ASCII
    ones do; most others, such as curly quotes and accented letters, do too).
    Reads only the non-ASCII ones: cheaper than `Folded._offsets`."""
    runs = _NON_ASCII_RUNS.findall(text)
    return all(len(_TABLE[ord(char)]) == 1 for run in runs for char in run)


def clip(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    return text if len(text) <= limit else text[:limit]


# --- keywords --------------------------------------------------------------


def keyword_parts(pattern: str) -> tuple[tuple[str, ...], bool] | None:
    """A keyword's folded words and whether it is a stem; None if it can never match."""
    folded = fold(pattern).strip()
    stem = folded.endswith("*")
    core = folded.rstrip("*").strip()
    if not _ANY_WORD_RE.search(core) or len(core) > MAX_KEYWORD_CHARS:
        return None
    parts = tuple(p for p in _SEPARATOR_RE.split(core) if p)
    if not parts:
        return None
    return parts, stem


def keyword_key(parts: tuple[str, ...]) -> str:
    return " ".join(parts)


def hit_key(matched: str) -> str:
    """The lookup key of a folded keyword hit: its words joined by single spaces."""
    return " ".join(p for p in _SEPARATOR_RE.split(matched) if p)


def keyword_body(parts: tuple[str, ...], stem: bool) -> str:
    """The regex of one keyword, without word boundaries: to find where a hit of
    `keyword_alternation` ends for this keyword, or to test a short text."""
    return "".join(_tokens(parts, stem))


def keyword_alternation(keywords: Iterable[tuple[tuple[str, ...], bool]]) -> re.Pattern[str]:
    """One regex that finds any of `keywords` as a whole word or phrase."""
    return re.compile(keyword_pattern(keywords))


def is_spaced(text: str) -> bool:
    """Whether `text` holds no character of the scripts written without spaces:
    then `KeywordRegex.spaced` finds in it what the exact regex finds."""
    return text.isascii() or _UNSPACED_RE.search(text) is None


class KeywordRegex:
    """A keyword regex (`keyword_pattern`) in two forms. Its word boundaries test
    WORD_CHAR, a class whose code points take milliseconds to compile each time
    it appears; it differs from plain \\w only on characters of the unspaced
    scripts. So `spaced`, for a text without any (`is_spaced`: most news text),
    tests \\w and compiles in a fraction of the time; `exact`, for any text, is
    compiled the first time such a text comes."""

    __slots__ = ("_exact", "_write", "spaced")

    def __init__(self, write: Callable[[str], str]) -> None:
        """`write`: the pattern, given the class its boundaries test."""
        self._write = write
        self.spaced = re.compile(write(r"\w"))
        self._exact: re.Pattern[str] | None = None

    def exact(self) -> re.Pattern[str]:
        if self._exact is None:
            self._exact = re.compile(self._write(WORD_CHAR))
        return self._exact

    def on(self, text: str) -> re.Pattern[str]:
        """The form to read `text` with."""
        return self.spaced if is_spaced(text) else self.exact()


def keyword_regex(keywords: Iterable[tuple[tuple[str, ...], bool]]) -> KeywordRegex:
    """`keyword_alternation` as a `KeywordRegex`."""
    listed = list(keywords)
    return KeywordRegex(lambda word: keyword_pattern(listed, word))


def keyword_pattern(keywords: Iterable[tuple[tuple[str, ...], bool]], word: str = WORD_CHAR) -> str:
    """The text of `keyword_alternation`'s regex (to embed in a larger one), its
    boundaries testing the class `word` (see `KeywordRegex`).

    The keywords are merged into a trie ("iran", "iraq" -> "ira(?:n|q)"), so at
    each position of the text the regex engine follows one branch instead of
    trying every keyword in turn, and the word boundaries are asserted once
    around the whole (they are costly to compile). At one position the longest
    keyword wins; the regex backtracks into a shorter one when a longer one
    fails its boundary ("New York" in "New York Citys").
    """
    classes: dict[tuple[bool, bool], list[list[str]]] = {}
    for parts, stem in keywords:
        before = bool(_WORD_RE.match(parts[0][0]))
        after = stem or bool(_WORD_RE.match(parts[-1][-1]))
        classes.setdefault((before, after), []).append(_tokens(parts, stem))
    groups: dict[bool, list[str]] = {}
    for (before, after), sequences in sorted(classes.items(), reverse=True):
        trie = _trie(sequences)
        groups.setdefault(before, []).append(f"(?:{trie}){f'(?!{word})' if after else ''}")
    # The lookbehind is asserted once for all the branches that need it, not once
    # per branch: inside a word it fails at once, and that is most positions of a
    # text (the same branches in the same order, so the same matches).
    branches = [
        f"{f'(?<!{word})' if before else ''}(?:{'|'.join(bodies)})"
        for before, bodies in groups.items()
    ]
    return "|".join(branches) or "(?!)"


def contains_keyword(text: str, parts: tuple[str, ...], stem: bool) -> bool:
    """Whether the folded `text` holds the keyword as a whole word (for short texts)."""
    body = re.compile(keyword_body(parts, stem))
    before = bool(_WORD_RE.match(parts[0][0]))
    after = not stem and bool(_WORD_RE.match(parts[-1][-1]))
    for start in range(len(text)):
        m = body.match(text, start)
        if m is None:
            continue
        if before and start > 0 and _WORD_RE.match(text[start - 1]):
            continue
        if after and m.end() < len(text) and _WORD_RE.match(text[m.end()]):
            continue
        return True
    return False


# A stem's tail is plain \w*: the exact class (WORD_CHAR) costs milliseconds to
# compile each time it appears, and a stem running on into CJK text is harmless.
_STEM_TAIL = r"\w*"


def _tokens(parts: tuple[str, ...], stem: bool) -> list[str]:
    tokens: list[str] = []
    for i, word in enumerate(parts):
        if i:
            tokens.append(SEPARATOR)
        tokens.extend(re.escape(c) for c in word)
    if stem:
        tokens.append(_STEM_TAIL)
    return tokens


_Node = dict[str, "_Node"]
_END = ""  # no token is empty, so this key marks "a keyword ends here"


def _trie(sequences: list[list[str]]) -> str:
    root: _Node = {}
    for sequence in sequences:
        node = root
        for token in sequence:
            node = node.setdefault(token, {})
        node[_END] = {}
    return _serialise(root)


def _token_order(token: str) -> tuple[bool, bool, str]:
    # Literal characters before a separator before a stem's tail: the stem's
    # tail would also eat the letters of a longer keyword ("syria*" vs "syrian army").
    return (token in (SEPARATOR, _STEM_TAIL), token == _STEM_TAIL, token)


def _serialise(node: _Node) -> str:
    branches = [k + _serialise(node[k]) for k in sorted(node, key=_token_order) if k != _END]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return f"(?:{body})?" if _END in node else body


# --- tags --------------------------------------------------------------------


def tag_key(tag: str) -> str:
    return _TAG_SEPARATOR_RE.sub(" ", fold(tag)).strip()


_QUALIFIED = re.compile(r"^(.*?)\s*\(([^()]*)\)\s*$")


def tag_keys(tags: tuple[str, ...]) -> list[tuple[str, str]]:
    """(key, original tag) for each tag and each of its parts, first tag first.

    A tag is also read in parts: "Analysis | Middle East" gives "analysis" and
    "middle east", and a qualified place such as "Beijing (China)" (how some
    sites label places) gives "beijing" and "china".
    """
    out: dict[str, str] = {}
    for raw in tags[:MAX_TAGS]:
        if not isinstance(raw, str):
            continue
        tag = clip(raw, MAX_TAG_CHARS)
        for key in _keys_of_tag(tag):
            if key not in out:
                out[key] = tag
    return list(out.items())


# A site uses the same few hundred tags again and again: remember their keys
# (at most this many tags of at most MAX_TAG_CHARS each).
_TAG_CACHE_LIMIT = 10_000
_TAG_CACHE: dict[str, tuple[str, ...]] = {}


def _keys_of_tag(tag: str) -> tuple[str, ...]:
    """The keys of one tag and of its parts, in order (see `tag_keys`)."""
    found = _TAG_CACHE.get(tag)
    if found is None:
        pieces = [tag, *tag.split("|")] if "|" in tag else [tag]
        keys = []
        for piece in pieces:
            qualified = _QUALIFIED.match(piece)
            texts = [piece, *qualified.groups()] if qualified else [piece]
            keys += [key for key in map(tag_key, texts) if key]
        found = tuple(keys)
        if len(_TAG_CACHE) < _TAG_CACHE_LIMIT:
            _TAG_CACHE[tag] = found
    return found


def is_word_char(char: str) -> bool:
    return bool(_WORD_RE.match(char))
