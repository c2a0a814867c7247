"""Placement rules: config `[[rule]]` entries that send a command remote or keep it local.

The server validates the rules when it starts (config.py) and writes them into the server file
as `rule.N=<where> <kind> <pattern>` lines (the pattern percent-encoded, so no whitespace or
newline in it can be lost by the key=value format). The runner reads them back here and
matches them against the command line: the program and its arguments joined by single spaces,
exactly as the build tool passed them (no shell quoting). The first rule that matches wins.

kind "match" is a shell-style glob over the whole command line (`*` also matches `/` and
spaces, `?` one character, `[...]` a set, `[!...]` its complement: fnmatch's rules, case
sensitive); kind "regex" is a Python regular expression searched anywhere in it (anchor it
with ^...$ to match the whole line).

On the runner's start-up path: builtins only. The glob matcher is written out here because
fnmatch imports re (~5 ms per step); re is imported only when a regex rule is tried.
"""

from __future__ import annotations

TYPE_CHECKING = False  # `re` only for the checker here (see the module docstring)
if TYPE_CHECKING:
    import re

WHERE = ("remote", "local")
KINDS = ("match", "regex")
_SAFE_MIN = 0x21  # characters below this (whitespace, controls) and "%" are percent-encoded


class Rule:
    """One placement rule: where matching commands run, and how they are matched."""

    __slots__ = ("_regex", "_tokens", "index", "kind", "pattern", "where")

    def __init__(self, index: int, where: str, kind: str, pattern: str) -> None:
        if where not in WHERE:
            raise ValueError(f"rule {index}: where must be one of {', '.join(WHERE)}")
        if kind not in KINDS:
            raise ValueError(f"rule {index}: kind must be one of {', '.join(KINDS)}")
        self.index = index
        self.where = where
        self.kind = kind
        self.pattern = pattern
        self._tokens: list[object] | None = None  # a glob, parsed on first use
        self._regex: re.Pattern[str] | None = None  # a regex, compiled on first use

    def matches(self, line: str) -> bool:
        if self.kind == "match":
            if self._tokens is None:
                self._tokens = _parse_glob(self.pattern)
            return _glob_tokens_match(self._tokens, line)
        if self._regex is None:
            import re  # only when a regex rule is actually tried

            self._regex = re.compile(self.pattern)
        return self._regex.search(line) is not None

    def describe(self) -> str:
        """How the rule reads in the config, for -v and `spraycc explain`."""
        return f'rule {self.index} ({self.kind} "{self.pattern}")'

    def as_dict(self) -> dict[str, object]:
        return {"index": self.index, "where": self.where, self.kind: self.pattern}

    def __repr__(self) -> str:
        return f"Rule({self.index}, {self.where!r}, {self.kind!r}, {self.pattern!r})"


def command_line(argv: list[str]) -> str:
    """What rules are matched against: program and arguments joined by single spaces."""
    return " ".join(argv)


def first_match(rules: list[Rule], argv: list[str]) -> Rule | None:
    if not rules:
        return None
    line = command_line(argv)
    for rule in rules:
        if rule.matches(line):
            return rule
    return None


# ---------------------------------------------------------------- server file representation

def encode(where: str, kind: str, pattern: str) -> str:
    """The value of a `rule.N` server-file line."""
    return f"{where} {kind} {_quote(pattern)}"


def decode(index: int, value: str) -> Rule:
    """A `rule.N` value back as a Rule; ValueError if it is malformed."""
    parts = value.split(" ")
    if len(parts) != 3:
        raise ValueError(f"rule {index}: malformed {value!r}")
    return Rule(index, parts[0], parts[1], _unquote(parts[2]))


def from_fields(fields: dict[str, str]) -> list[Rule]:
    """The rules of a server file's fields, in order. A malformed rule is a ValueError: a
    runner must not silently place steps differently from what the config says."""
    found = []
    for key, value in fields.items():
        if key.startswith("rule."):
            try:
                index = int(key[5:])
            except ValueError:
                raise ValueError(f"malformed rule key {key!r}") from None
            found.append(decode(index, value))
    found.sort(key=lambda r: r.index)
    return found


def to_fields(rules: list[dict[str, str]]) -> dict[str, str]:
    """Server-file fields for validated config rules (dicts with `where` and match/regex)."""
    fields = {}
    for index, rule in enumerate(rules):
        kind = "match" if "match" in rule else "regex"
        fields[f"rule.{index}"] = encode(rule["where"], kind, rule[kind])
    return fields


def _quote(text: str) -> str:
    out = []
    for ch in text:
        code = ord(ch)
        out.append(f"%{code:02X}" if code < _SAFE_MIN or ch == "%" else ch)
    return "".join(out)


def _unquote(text: str) -> str:
    if "%" not in text:
        return text
    out = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "%":
            try:
                out.append(chr(int(text[i + 1:i + 3], 16)))
            except ValueError:
                raise ValueError(f"bad escape in rule pattern {text!r}") from None
            i += 3
        else:
            out.append(ch)
            i += 1
    return "".join(out)


# ------------------------------------------------------------------------------ glob match

# Tokens: a str of length 1 is a literal character, STAR is `*`, ANY is `?`, and a tuple
# (negated, chars, ranges) is a `[...]` set.
_STAR = 1
_ANY = 2


def glob_match(pattern: str, text: str) -> bool:
    """fnmatch.fnmatchcase(text, pattern), without importing re."""
    return _glob_tokens_match(_parse_glob(pattern), text)


def _parse_glob(pattern: str) -> list[object]:
    tokens: list[object] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            if not tokens or tokens[-1] is not _STAR:  # ** is *
                tokens.append(_STAR)
        elif ch == "?":
            tokens.append(_ANY)
        elif ch == "[":
            parsed = _parse_set(pattern, i)
            if parsed is None:
                tokens.append("[")  # no closing bracket: a literal "[", as in fnmatch
            else:
                token, i = parsed
                tokens.append(token)
        else:
            tokens.append(ch)
    return tokens


def _parse_set(pattern: str, i: int) -> tuple[object, int] | None:
    """The set starting after `[` at `i`: (token, index after `]`), or None if unclosed."""
    n = len(pattern)
    j = i
    if j < n and pattern[j] == "!":
        j += 1
    if j < n and pattern[j] == "]":  # a leading ] is a member, not the end
        j += 1
    while j < n and pattern[j] != "]":
        j += 1
    if j >= n:
        return None
    body = pattern[i:j]
    negated = body.startswith("!")
    if negated:
        body = body[1:]
    chars: list[str] = []
    ranges: list[tuple[str, str]] = []
    k = 0
    while k < len(body):
        if k + 2 < len(body) and body[k + 1] == "-":
            lo, hi = body[k], body[k + 2]
            if lo <= hi:  # fnmatch drops reversed ranges (they match nothing)
                ranges.append((lo, hi))
            k += 3
        else:
            chars.append(body[k])
            k += 1
    return (negated, "".join(chars), tuple(ranges)), j + 1


def _one(token: object, ch: str) -> bool:
    if token is _ANY:
        return True
    if isinstance(token, str):
        return token == ch
    if not isinstance(token, tuple):  # a str or _ANY, handled above
        return False
    negated, chars, ranges = token
    hit = ch in chars or any(lo <= ch <= hi for lo, hi in ranges)
    return hit != negated


def _glob_tokens_match(tokens: list[object], text: str) -> bool:
    """Classic wildcard matching with backtracking to the last `*` only: linear-ish, and
    exact because a later `*` can absorb whatever an earlier one would have."""
    p = t = 0
    star_p, star_t = -1, 0
    n_tok, n_text = len(tokens), len(text)
    while t < n_text:
        if p < n_tok and tokens[p] is _STAR:
            star_p, star_t = p, t
            p += 1
        elif p < n_tok and _one(tokens[p], text[t]):
            p += 1
            t += 1
        elif star_p >= 0:
            star_t += 1
            p, t = star_p + 1, star_t
        else:
            return False
    while p < n_tok and tokens[p] is _STAR:
        p += 1
    return p == n_tok
