"""What a city's selector may be, and the budget it is evaluated under.

Selectors come from tenants (the API, the console, ``feeds/*.toml``) and run on our workers, so they
are a computation handed to strangers. Two guards keep that computation small:

* ``check`` admits only node-set expressions in a restricted XPath grammar. CSS is parsed by
  cssselect and its translation is held to the same grammar, so both languages share one cost
  model: no variables, no absolute paths inside predicates (``//div[count(//*)]`` re-walks the
  page for every node), predicates nested at most two deep, descendant steps inside a predicate
  only at its first level and once per path, no ``following``/``preceding`` axes, functions from a
  short allow-list, and bounds on length, steps and predicates. Registration and evaluation
  both call it, so a selector stored before these rules is refused when it runs.
* ``Meter`` spends a ``SelectorBudget`` while one page is extracted: the page's element count is
  capped before anything runs, each evaluation may return at most ``max_nodes`` nodes, and the
  evaluations of one page share one deadline. Over budget is ``SelectorTooExpensive``.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NoReturn

from cssselect import HTMLTranslator
from cssselect.parser import SelectorError
from lxml import etree

from syndicate.reader.errors import InvalidSelector, SelectorTooExpensive

ATTRIBUTE = re.compile(r"^(.*?)\s*@([A-Za-z_][\w:-]*)$")
MAX_LENGTH = 300  # characters of the selector as written
MAX_STEPS = 24  # location steps, counted after CSS is translated
MAX_PREDICATES = 12
MAX_PREDICATE_DEPTH = 2
AXES = {
    "child",
    "descendant",
    "descendant-or-self",
    "self",
    "parent",
    "ancestor",
    "ancestor-or-self",
    "following-sibling",
    "preceding-sibling",
    "attribute",
}
DESCENDANT_AXES = {"descendant", "descendant-or-self"}
SCANNING_AXES = DESCENDANT_AXES | {"following-sibling", "preceding-sibling", "plain-descendant"}
MAX_SCANS = 2  # paths inside predicates that walk a subtree or a row of siblings, per selector
NODE_TYPES = {"text", "node", "comment"}
FUNCTIONS = {
    "boolean",
    "concat",
    "contains",
    "count",
    "false",
    "lang",
    "last",
    "local-name",
    "name",
    "normalize-space",
    "not",
    "number",
    "position",
    "starts-with",
    "string",
    "string-length",
    "substring",
    "translate",
    "true",
}
OPERATOR_NAMES = {"and", "or", "mod", "div"}
BINARY = {"=", "!=", "<", "<=", ">", ">=", "+", "-", "|"}
TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"[^"]*"|'[^']*')
      | (?P<number>\d+(?:\.\d*)?|\.\d+)
      | (?P<symbol>//|::|\.\.|!=|<=|>=|[/\[\]()@,|=<>+\-*.$])
      | (?P<name>[A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*|:\*)?)
    )""",
    re.X,
)


@dataclass(frozen=True)
class SelectorBudget:
    """What evaluating one page's selectors may cost."""

    seconds: float = 2.0  # all evaluations on one page together
    max_nodes: int = 2000  # nodes one evaluation may return
    max_elements: int = 10000  # elements a page may have before any selector runs on it (a predicate can cost their square)


@dataclass
class Meter:
    """The budget being spent on one page; ``select`` calls ``spend`` around every evaluation."""

    budget: SelectorBudget = field(default_factory=SelectorBudget)
    started: float = field(default_factory=time.monotonic)
    _order: dict = field(default_factory=dict, repr=False)

    def admit(self, doc) -> None:
        elements = sum(1 for _ in doc.iter())
        if elements > self.budget.max_elements:
            raise SelectorTooExpensive(f"the page has {elements} elements, more than the {self.budget.max_elements} selectors may search")

    def order(self, node) -> dict:
        """Each element's position in the document of ``node``, counted once per page."""
        root = node.getroottree().getroot()
        if root not in self._order:
            self._order.clear()
            self._order[root] = {el: index for index, el in enumerate(root.iter())}
        return self._order[root]

    def spend(self, selector: str, found: int = 0) -> None:
        if found > self.budget.max_nodes:
            raise SelectorTooExpensive(f"the selector {selector!r} matched {found} nodes, more than {self.budget.max_nodes}")
        if time.monotonic() - self.started > self.budget.seconds:
            raise SelectorTooExpensive(f"the selectors took longer than {self.budget.seconds:g} s on one page (last: {selector!r})")


def split(selector: str) -> tuple[str, str | None]:
    """The expression and the attribute of a trailing ``@name`` (``a.more@href``)."""
    if (match := ATTRIBUTE.match(selector)) and not match[1].endswith("/"):  # ``xpath://a/@href`` is XPath's own
        return match[1], match[2]
    return selector, None


@dataclass(frozen=True)
class Plan:
    """A checked selector, ready to run: each ``|`` branch as its steps, compiled one by one.

    libxml2 evaluates ``A/B`` for all contexts of ``A`` at once and removes duplicates as it goes,
    which on deep pages grows with the square of the page and cannot be interrupted. Run step by
    step, from one context node at a time, each call is bounded by the grammar and the page size,
    and the meter can stop between calls."""

    branches: tuple[tuple[etree.XPath, ...], ...]
    attribute: str | None


@lru_cache(maxsize=1024)
def compiled(selector: str) -> Plan:
    """The checked, compiled selector; raises InvalidSelector (a German message)."""
    expression, attribute = split(selector)
    if len(selector) > MAX_LENGTH:
        raise InvalidSelector(f"Selektor ist länger als {MAX_LENGTH} Zeichen")
    if not expression:
        return Plan((), attribute)
    if expression.startswith("xpath:"):
        xpath = expression[6:]
    else:
        try:
            xpath = HTMLTranslator().css_to_xpath(expression)
        except SelectorError as exc:
            raise InvalidSelector(f"kein gültiger CSS-Selektor {expression!r}: {exc}") from exc
    try:
        branches = tuple(tuple(etree.XPath(step) for step in steps) for steps in _Checker(xpath).check())
    except etree.XPathSyntaxError as exc:
        raise InvalidSelector(f"kein gültiger XPath-Ausdruck {xpath!r}: {exc}") from exc
    return Plan(branches, attribute)


def check(selector: str) -> None:
    """Raise InvalidSelector (a German message) unless ``selector`` is one a city may use."""
    compiled(selector)


def evaluate(node, selector: str, meter: Meter) -> list:
    """Elements (or attribute strings) that ``selector`` matches below ``node``, in document order."""
    plan = compiled(selector)
    meter.spend(selector)
    if not plan.branches:
        found = [node]
    else:
        found = []
        for steps in plan.branches:
            found += _branch(node, steps, selector, meter)
        if len(plan.branches) > 1:
            found = _in_document_order(_unique(found), meter)
    if plan.attribute:
        return [value for el in found if not isinstance(el, str) and (value := el.get(plan.attribute))]
    return found


def _branch(node, steps: tuple[etree.XPath, ...], selector: str, meter: Meter) -> list:
    contexts = [node]
    for step in steps:
        found: list = []
        for context in contexts:
            if isinstance(context, str):  # an attribute or text: no steps lead on from it
                continue
            found += step(context)
            meter.spend(selector, len(found) if step is steps[-1] else 0)
        contexts = _in_document_order(_unique(found), meter) if len(contexts) > 1 else found
    return contexts


def _unique(found: list) -> list:
    seen: set = set()
    unique = []
    for item in found:
        if (key := _key(item)) not in seen:
            seen.add(key)
            unique.append(item)
    return unique


def _key(item):
    if isinstance(item, str):  # lxml's attribute and text results know the element they belong to
        return (_element(item), getattr(item, "attrname", None), getattr(item, "is_tail", False), str(item))
    return item


def _element(item):
    """The element itself, or the element an attribute or text result belongs to."""
    if isinstance(item, str):
        return item.getparent() if hasattr(item, "getparent") else None
    return item


def _in_document_order(found: list, meter: Meter) -> list:
    anchor = next((element for item in found if (element := _element(item)) is not None), None)
    if len(found) < 2 or anchor is None:
        return found
    order = meter.order(anchor)
    return sorted(found, key=lambda item: order.get(_element(item), -1))


class _Checker:
    """A recursive-descent reader of XPath 1.0 that admits only the restricted, node-set grammar and
    returns each ``|`` branch as the steps ``evaluate`` runs one at a time."""

    def __init__(self, text: str):
        self.text = text.strip()
        self.tokens, self.spans = _tokens(self.text)
        self.at = 0
        self.steps = self.predicates = self.scans = 0
        self.branches: list[list[str]] = []

    def check(self) -> list[list[str]]:
        token = self.peek()
        value_first = token is not None and (token[0] in ("string", "number") or (token[0] == "name" and self.peek(1) == ("symbol", "(")))
        if token is not None and value_first and token[1] not in NODE_TYPES:
            self.fail("ein Selektor wählt Elemente aus, keine Zahl, keinen Text und keinen Wahrheitswert")
        self.union(depth=0)
        if self.at < len(self.tokens):
            self.fail(f"unerwartet: {self.tokens[self.at][1]!r}")
        return self.branches

    def fail(self, why: str) -> NoReturn:
        raise InvalidSelector(f"nicht erlaubter XPath-Ausdruck {self.text!r}: {why}")

    def peek(self, offset: int = 0) -> tuple[str, str] | None:
        index = self.at + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            self.fail(f"{value!r} erwartet" if value else "unvollständig")
        self.at += 1
        return token

    def union(self, depth: int) -> None:
        """The top level: location paths joined by ``|``, nothing that yields a number, string or boolean."""
        self.path(depth)
        while self.peek() == ("symbol", "|"):
            self.take()
            self.path(depth)

    def path(self, depth: int) -> None:
        scans = 0
        steps: list[tuple[str, str, str]] = []  # (separator, step text, axis)
        separator = ""
        token = self.peek()
        if token in (("symbol", "/"), ("symbol", "//")):
            if depth > 0:
                self.fail("ein absoluter Pfad innerhalb einer Bedingung durchsucht die ganze Seite für jeden Knoten")
            separator = self.take()[1]
            scans += separator == "//"
        while True:
            begin = self.at
            axis = self.step(depth)
            scans += axis in SCANNING_AXES
            steps.append((separator, self.text[self.spans[begin][0] : self.spans[self.at - 1][1]], axis))
            if self.peek() not in (("symbol", "/"), ("symbol", "//")):
                break
            separator = self.take()[1]
            scans += separator == "//"
        if depth > 0 and scans:
            # Each such path is evaluated for every candidate node inside one libxml2 call, which the meter cannot stop.
            self.scans += scans
            if scans > 1 or depth > 1:
                self.fail("Nachfahren (//) oder Geschwister in einer Bedingung nur einmal je Pfad und nur auf der ersten Ebene")
            if self.scans > MAX_SCANS:
                self.fail(f"höchstens {MAX_SCANS} Pfade in Bedingungen, die Nachfahren oder Geschwister durchsuchen")
        if depth == 0:
            self.branches.append(_segments(steps))

    def step(self, depth: int) -> str:
        """One location step with its predicates; returns its axis (``plain-descendant`` for ``descendant-or-self::*``)."""
        self.steps += 1
        if self.steps > MAX_STEPS:
            self.fail(f"mehr als {MAX_STEPS} Schritte")
        kind, value = self.take()
        axis = "child"
        if value in (".", ".."):
            return "self" if value == "." else "parent"
        if value == "@":
            axis = "attribute"
            kind, value = self.take()
            if kind != "name" and value != "*":
                self.fail("Attributname erwartet")
        elif kind == "name" and self.peek() == ("symbol", "::"):
            if value not in AXES:
                self.fail(f"die Achse {value!r} ist nicht erlaubt")
            axis = value
            self.take()
            test = self.node_test()
            if axis == "descendant-or-self" and test in ("*", "node") and self.peek() != ("symbol", "["):
                return "plain-descendant"
        else:
            self.at -= 1
            self.node_test()
        while self.peek() == ("symbol", "["):
            self.predicate(depth + 1)
        return axis

    def node_test(self) -> str:
        kind, value = self.take()
        if value == "*":
            return value
        if kind != "name":
            self.fail(f"Knotentest erwartet, nicht {value!r}")
        if ":" in value:
            self.fail("Namensräume gibt es in HTML nicht")
        if self.peek() == ("symbol", "("):
            if value not in NODE_TYPES:
                self.fail(f"{value}() ist hier nicht erlaubt")
            self.take("(")
            self.take(")")
        return value

    def predicate(self, depth: int) -> None:
        self.predicates += 1
        if self.predicates > MAX_PREDICATES:
            self.fail(f"mehr als {MAX_PREDICATES} Bedingungen")
        if depth > MAX_PREDICATE_DEPTH:
            self.fail(f"Bedingungen höchstens {MAX_PREDICATE_DEPTH} Ebenen tief verschachtelt")
        self.take("[")
        self.expression(depth)
        self.take("]")

    def expression(self, depth: int) -> None:
        self.operand(depth)
        while (token := self.peek()) is not None and (token[1] in BINARY or token == ("operator", "*") or token[1] in OPERATOR_NAMES):
            self.take()
            self.operand(depth)

    def operand(self, depth: int) -> None:
        token = self.peek()
        if token is None:
            self.fail("unvollständig")
        kind, value = token
        if value == "$":
            self.fail("Variablen sind nicht erlaubt")
        if kind in ("string", "number"):
            self.take()
        elif value == "-":
            self.take()
            self.operand(depth)
        elif value == "(":
            self.take()
            self.expression(depth)
            self.take(")")
        elif kind == "name" and self.peek(1) == ("symbol", "(") and value not in NODE_TYPES:
            if value not in FUNCTIONS:
                self.fail(f"die Funktion {value}() ist nicht erlaubt")
            self.take()
            self.take("(")
            if self.peek() != ("symbol", ")"):
                self.expression(depth)
                while self.peek() == ("symbol", ","):
                    self.take()
                    self.expression(depth)
            self.take(")")
        else:
            self.path(depth)


def _segments(steps: list[tuple[str, str, str]]) -> list[str]:
    """The expressions ``evaluate`` runs one after another, each from one context node at a time.

    A search of all descendants followed by a child step (``//a``, CSS ``div a``) stays one
    expression: from a single context node libxml2 finds no duplicates there. Any other step is
    its own expression, so that overlapping contexts are merged in Python, under the meter."""
    segments: list[str] = []
    carry = ""
    for index, (separator, text, axis) in enumerate(steps):
        joins = axis in ("child", "attribute", "self")
        if separator == "//":
            prefix = "/" if index == 0 else ""
            if joins:
                text = f"{prefix}descendant-or-self::node()/{text}"
            else:
                segments.append(f"{prefix}descendant-or-self::node()")
        elif separator == "/" and index == 0:
            text = f"/{text}"
        if carry and joins:
            text, carry = f"{carry}/{text}", ""
        elif carry:
            segments.append(carry)
            carry = ""
        if axis == "plain-descendant" or text == ".":
            carry = text
        else:
            segments.append(text)
    if carry:
        segments.append(carry)
    return segments


def _tokens(text: str) -> tuple[list[tuple[str, str]], list[tuple[int, int]]]:
    """XPath tokens and their spans; ``*`` after an operand is the operator (XPath 1.0, section 3.7)."""
    tokens: list[tuple[str, str]] = []
    spans: list[tuple[int, int]] = []
    position = 0
    while position < len(text):
        match = TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise InvalidSelector(f"nicht erlaubter XPath-Ausdruck {text!r}: unbekanntes Zeichen an Stelle {position + 1}")
        group = kind = match.lastgroup or "symbol"
        value = match[group]
        previous = tokens[-1] if tokens else None
        after_operand = previous is not None and previous[1] not in ("@", "::", "(", "[", ",", "/", "//", *BINARY)
        after_operand = after_operand and previous is not None and previous != ("operator", "*") and previous[1] not in OPERATOR_NAMES
        if value == "*" and after_operand:
            kind = "operator"
        tokens.append((kind, value))
        spans.append(match.span(group))
        position = match.end()
    return tokens, spans
