"""Tokens to an expression tree, by a small recursive-descent parser with bounded nesting."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction

from voice_agent.skills.calculator.errors import TOO_LONG, CalcError, NotUnderstood
from voice_agent.skills.calculator.tokens import Num, Token

MAX_DEPTH = 40  # nesting of brackets, signs and powers


@dataclass(frozen=True)
class Unary:
    operand: Node


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Call:
    name: str  # sqrt, cbrt, fact
    arg: Node


@dataclass(frozen=True)
class Percent:
    operand: Node


Node = Num | Unary | Binary | Call | Percent


def parse(tokens: list[Token]) -> Node:
    """The expression the tokens spell; raises NotUnderstood when they spell none."""
    return _Parser(tokens).parse()


class _Parser:
    """expr := term (+|- term)*;  term := unary (*|/|of|mod unary)*;  unary := -unary | power;
    power := postfix (^ unary)?;  postfix := atom (%|!|²|³)*;
    atom := number | ( expr ) | sqrt|cbrt|fact unary."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    def parse(self) -> Node:
        node = self.expr()
        if self.pos != len(self.tokens):
            raise NotUnderstood()
        return node

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise NotUnderstood()
        self.pos += 1
        return token

    @contextmanager
    def nested(self) -> Iterator[None]:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise CalcError(TOO_LONG)
        yield
        self.depth -= 1

    def expr(self) -> Node:
        node = self.term()
        while self.peek() in ("+", "-"):
            op = str(self.take())
            node = Binary(op, node, self.term())
        return node

    def term(self) -> Node:
        node = self.unary()
        while (token := self.peek()) in ("*", "/", "of", "mod", "("):
            if token != "(":  # "2(3 + 4)" multiplies
                self.take()
            node = Binary("*" if token == "(" else str(token), node, self.unary())
        return node

    def unary(self) -> Node:
        if self.peek() in ("-", "+"):
            sign = self.take()
            with self.nested():
                operand = self.unary()
            return Unary(operand) if sign == "-" else operand
        return self.power()

    def power(self) -> Node:
        base = self.postfix()
        if self.peek() != "^":
            return base
        self.take()
        with self.nested():
            return Binary("^", base, self.unary())

    def postfix(self) -> Node:
        node = self.atom()
        while (token := self.peek()) in ("%", "!", "²", "³"):
            self.take()
            if token == "%":
                node = Percent(node)
            elif token == "!":
                node = Call("fact", node)
            else:
                exponent = 2 if token == "²" else 3
                node = Binary("^", node, Num(Fraction(exponent), str(exponent)))
        return node

    def atom(self) -> Node:
        token = self.take()
        if isinstance(token, Num):
            return token
        if token == "(":
            with self.nested():
                node = self.expr()
            if self.take() != ")":
                raise NotUnderstood()
            return node
        if token in ("sqrt", "cbrt", "fact"):
            with self.nested():
                return Call(token, self.unary())
        raise NotUnderstood()
