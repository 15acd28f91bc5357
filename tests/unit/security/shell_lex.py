"""A shell lexer that keeps a script's structure and drops its literal text.

bash -n says a script parses; it cannot say a value added a command. This lexer
turns a bash script into tokens: operators and reserved words as they are,
every other word as "w" with the expansions it holds ($(...) with its own
tokens, backticks, ${...}, $name, $((...)), each marked quoted or not), newlines,
and here-documents with the expansions of their bodies. A value that closes a
quote, adds a word, a command, a substitution or a line changes the tokens; a
value that stays inside its quotes does not.
"""

from __future__ import annotations

from typing import Any

_OPERATORS = ("<<<", "<<-", ";;&", ";;", ";&", "&&", "||", "|&", "<<", ">>", "<&", ">&", "&>", "<>", ">|",
              ";", "&", "|", "(", ")", "<", ">")
_RESERVED = {"if", "then", "else", "elif", "fi", "case", "esac", "for", "while", "until", "do", "done",
             "in", "function", "select", "time", "{", "}", "!", "[[", "]]"}
_SPECIAL_PARAMS = set("@*#?$!-0123456789")


class ShellSyntax(ValueError):
    pass


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.pending: list[tuple[str, bool, bool]] = []  # here-docs: delimiter, quoted, strip tabs

    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.text[j] if j < len(self.text) else ""

    def tokens(self, inside_substitution: bool = False) -> list[Any]:
        out: list[Any] = []
        depth = 0
        at_word_start = True
        while self.i < len(self.text):
            c = self.peek()
            if c == "\\" and self.peek(1) == "\n":
                self.i += 2
                continue
            if c in " \t":
                self.i += 1
                at_word_start = True
                continue
            if c == "\n":
                self.i += 1
                out.append("NL")
                self.heredoc_bodies(out)
                at_word_start = True
                continue
            if c == "#" and at_word_start:
                end = self.text.find("\n", self.i)
                self.i = len(self.text) if end == -1 else end
                continue
            op = next((o for o in _OPERATORS if self.text.startswith(o, self.i)), None)
            if op is not None:
                if op == ")" and inside_substitution and depth == 0:
                    self.i += 1
                    return out
                depth += {"(": 1, ")": -1}.get(op, 0)
                self.i += len(op)
                out.append(op)
                if op in ("<<", "<<-"):
                    self.skip_blanks()
                    raw, _ = self.word()
                    delimiter = raw.replace("'", "").replace('"', "").replace("\\", "")
                    self.pending.append((delimiter, raw != delimiter, op == "<<-"))
                at_word_start = True
                continue
            raw, expansions = self.word()
            out.append(raw if raw in _RESERVED and not expansions else ("w", tuple(expansions)))
            at_word_start = False
        if inside_substitution:
            raise ShellSyntax("unterminated $(")
        if self.pending:
            raise ShellSyntax("unterminated here-document")
        return out

    def skip_blanks(self) -> None:
        while self.peek() in (" ", "\t") and self.peek():
            self.i += 1

    def heredoc_bodies(self, out: list[Any]) -> None:
        for delimiter, quoted, strip in self.pending:
            expansions: list[Any] = []
            while True:
                if self.i >= len(self.text):
                    raise ShellSyntax(f"here-document {delimiter!r} not closed")
                end = self.text.find("\n", self.i)
                end = len(self.text) if end == -1 else end
                line = self.text[self.i:end]
                self.i = end + 1
                if (line.lstrip("\t") if strip else line) == delimiter:
                    break
                if not quoted:
                    expansions += _Lexer(line).quoted_text(stop="")
            out.append(("heredoc", quoted, tuple(expansions)))
        self.pending = []

    def word(self) -> tuple[str, list[Any]]:
        """One word: its raw text and the expansions in it."""
        start = self.i
        expansions: list[Any] = []
        while self.i < len(self.text):
            c = self.peek()
            if c in " \t\n" or any(self.text.startswith(o, self.i) for o in _OPERATORS):
                break
            if c == "\\":
                self.i += 2
            elif c == "'":
                end = self.text.find("'", self.i + 1)
                if end == -1:
                    raise ShellSyntax("unterminated '")
                self.i = end + 1
            elif c == "$" and self.peek(1) == "'":
                self.i += 2
                while self.peek() != "'":
                    if not self.peek():
                        raise ShellSyntax("unterminated $'")
                    self.i += 2 if self.peek() == "\\" else 1
                self.i += 1
            elif c == '"':
                self.i += 1
                expansions += [("quoted", e) for e in self.quoted_text(stop='"')]
            elif c in "$`":
                expansions.append(("bare", self.expansion()))
            else:
                self.i += 1
        return self.text[start:self.i], expansions

    def quoted_text(self, stop: str) -> list[Any]:
        """Inside "..." (or a here-document line, stop=""): the expansions only."""
        found: list[Any] = []
        while True:
            c = self.peek()
            if c == "" and stop:
                raise ShellSyntax("unterminated \"")
            if c == stop:
                self.i += 1
                return found
            if c == "\\":
                self.i += 2
            elif c in "$`":
                found.append(self.expansion())
            else:
                self.i += 1

    def expansion(self) -> Any:
        if self.peek() == "`":
            end = self.i + 1
            while end < len(self.text) and self.text[end] != "`":
                end += 2 if self.text[end] == "\\" else 1
            if end >= len(self.text):
                raise ShellSyntax("unterminated `")
            inner = self.text[self.i + 1:end]
            self.i = end + 1
            return ("`", tuple(_Lexer(inner).tokens()))
        self.i += 1  # the $
        if self.text.startswith("((", self.i):
            return ("$((", self.balanced("(", ")", skip=2))
        if self.peek() == "(":
            self.i += 1
            return ("$(", tuple(self.tokens(inside_substitution=True)))
        if self.peek() == "{":
            return ("${", self.balanced("{", "}", skip=1))
        if self.peek() and (self.peek().isalpha() or self.peek() == "_"):
            while self.peek() and (self.peek().isalnum() or self.peek() == "_"):
                self.i += 1
            return "$name"
        if self.peek() in _SPECIAL_PARAMS and self.peek():
            self.i += 1
            return "$special"
        return "$"  # a literal dollar sign

    def balanced(self, open_: str, close: str, skip: int) -> Any:
        """${...} or $((...)): to the matching close, with the expansions inside."""
        self.i += skip
        depth = skip
        found: list[Any] = []
        while depth:
            c = self.peek()
            if not c:
                raise ShellSyntax(f"unterminated {open_}")
            if c == "\\":
                self.i += 2
            elif c == "'" and open_ == "{":
                end = self.text.find("'", self.i + 1)
                if end == -1:
                    raise ShellSyntax("unterminated '")
                self.i = end + 1
            elif c == '"':
                self.i += 1
                found += self.quoted_text(stop='"')
            elif c in "$`":
                found.append(self.expansion())
            else:
                depth += 1 if c == open_ else -1 if c == close else 0
                self.i += 1
        return tuple(found)


def shell_tokens(text: str) -> tuple[Any, ...]:
    return tuple(_Lexer(text).tokens())
