"""Subjects: the server's rules (reference A1), matching, and a token-trie index.

Pure Python, no SimPy. A subject is a string of tokens separated by ``.``; in a subscription
``*`` (one token) and ``>`` (one or more trailing tokens) are wildcards when they are a whole
token.

>>> validate_subject("orders.*.new")
'orders.*.new'
>>> subject_matches("orders.>", "orders.eu.1"), subject_matches("orders.>", "orders")
(True, False)
>>> index = SubjectIndex()
>>> index.add(Sub("orders.*"))
>>> index.add(Sub("orders.eu", queue="billing"))
>>> [s.subject for s in index.match("orders.eu").plain]
['orders.*']
>>> [[s.queue for s in group] for group in index.match("orders.eu").groups]
[['billing']]

A publish subject is matched literally: a publish to ``orders.*`` reaches only wildcard
subscriptions, and a subject with an empty token reaches nobody.

>>> subject_matches("orders.eu", "orders.*"), subject_matches("orders.*", "orders.*")
(False, True)
>>> subject_matches(">", "orders..eu")
False
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from .errors import InvalidSubjectError

__all__ = [
    "validate_subject",
    "check_publish_subject",
    "validate_queue",
    "subject_matches",
    "SubjectMatch",
    "SubjectIndex",
    "Sub",
]

_WHITESPACE = {" ": "a space", "\t": "a tab", "\n": "a newline", "\r": "a carriage return",
               "\f": "a form feed"}


def _whitespace_in(text: str) -> str | None:
    for char, name in _WHITESPACE.items():
        if char in text:
            return name
    return None


def validate_subject(subject: Any, *, wildcards: bool = True) -> str:
    """Return ``subject`` if it follows the server's rules, else raise InvalidSubjectError.

    ``wildcards=False`` checks a publish subject strictly (as the server's pedantic mode does):
    ``*`` and ``>`` tokens are then refused.

    >>> validate_subject("a..b")
    Traceback (most recent call last):
    ...
    pmesh_sim.errors.InvalidSubjectError: invalid subject 'a..b': token 2 is empty (tokens are separated by single dots, with no dot at the start or end)
    >>> validate_subject("a.>.b")
    Traceback (most recent call last):
    ...
    pmesh_sim.errors.InvalidSubjectError: invalid subject 'a.>.b': '>' must be the last token (it matches all the remaining tokens)
    """
    if not isinstance(subject, str):
        raise InvalidSubjectError(
            f"invalid subject {subject!r}: a subject must be a str, got {type(subject).__name__}")
    if not subject:
        raise InvalidSubjectError("invalid subject '': a subject must not be empty")
    space = _whitespace_in(subject)
    if space:
        raise InvalidSubjectError(
            f"invalid subject {subject!r}: it contains {space} (no whitespace is allowed)")
    tokens = subject.split(".")
    last = len(tokens) - 1
    for i, token in enumerate(tokens):
        if not token:
            raise InvalidSubjectError(
                f"invalid subject {subject!r}: token {i + 1} is empty (tokens are separated by "
                "single dots, with no dot at the start or end)")
        if token in ("*", ">"):
            if not wildcards:
                raise InvalidSubjectError(
                    f"invalid subject {subject!r}: wildcard {token!r} is not allowed here "
                    "(a publish subject is a literal subject; wildcards are for subscriptions)")
            if token == ">" and i != last:
                raise InvalidSubjectError(
                    f"invalid subject {subject!r}: '>' must be the last token "
                    "(it matches all the remaining tokens)")
    return subject


def check_publish_subject(subject: Any, what: str = "subject") -> str:
    """Return ``subject`` if a client may publish to it, as nats-py checks it.

    A non-pedantic client only refuses a non-str, an empty subject and whitespace; the server
    then matches the subject literally (``foo.*`` reaches only wildcard subscriptions, ``a..b``
    reaches nobody).

    >>> check_publish_subject("foo.*")
    'foo.*'
    >>> check_publish_subject("")
    Traceback (most recent call last):
    ...
    pmesh_sim.errors.InvalidSubjectError: invalid subject '': a subject must not be empty
    """
    if not isinstance(subject, str):
        raise InvalidSubjectError(
            f"invalid {what} {subject!r}: a {what} must be a str, got {type(subject).__name__}")
    if not subject:
        raise InvalidSubjectError(f"invalid {what} '': a {what} must not be empty")
    space = _whitespace_in(subject)
    if space:
        raise InvalidSubjectError(
            f"invalid {what} {subject!r}: it contains {space} (no whitespace is allowed)")
    return subject


def validate_queue(queue: Any) -> str:
    """Return the queue group name (``""`` for none), or raise InvalidSubjectError.

    ``None`` and ``""`` mean no queue group; otherwise whitespace is refused (nats-py).

    >>> validate_queue(None), validate_queue("workers")
    ('', 'workers')
    """
    if queue is None:
        return ""
    if not isinstance(queue, str):
        raise InvalidSubjectError(
            f"invalid queue group {queue!r}: a queue name must be a str, got {type(queue).__name__}")
    space = _whitespace_in(queue)
    if space:
        raise InvalidSubjectError(
            f"invalid queue group {queue!r}: it contains {space} (no whitespace is allowed)")
    return queue


def subject_matches(pattern: str, subject: str) -> bool:
    """Whether a subscription to ``pattern`` receives a publish to ``subject``.

    >>> subject_matches("a.*.c", "a.b.c"), subject_matches("a.*", "a.b.c"), subject_matches(">", "a")
    (True, False, True)
    """
    if not subject or not pattern:
        return False
    ptoks = pattern.split(".")
    stoks = subject.split(".")
    if "" in stoks:
        return False
    for i, ptok in enumerate(ptoks):
        if ptok == ">" and i == len(ptoks) - 1:
            return len(stoks) > i
        if i >= len(stoks):
            return False
        if ptok != "*" and ptok != stoks[i]:
            return False
    return len(ptoks) == len(stoks)


@dataclass
class Sub:
    """A minimal subscription record: anything with ``.subject`` and ``.queue`` will do."""

    subject: str
    queue: str = ""


class SubjectMatch(NamedTuple):
    """The subscriptions one subject reaches.

    ``plain``: every subscription without a queue group; ``groups``: one list of members per
    queue name, in the order the names were first added. Treat both as read-only (a match may
    be shared by later calls for the same subject).

    >>> SubjectMatch([], []).plain
    []
    """

    plain: list = ()  # type: ignore[assignment]
    groups: list = ()  # type: ignore[assignment]


_EMPTY = SubjectMatch((), ())  # type: ignore[arg-type]
_new_match = tuple.__new__      # SubjectMatch without the Python-level __new__ (hot path)


class _Node:
    __slots__ = ("next", "plain", "queues")

    def __init__(self):
        self.next: _Level | None = None
        self.plain: list = []
        self.queues: dict[str, list] = {}


class _Level:
    __slots__ = ("nodes", "pwc", "fwc")

    def __init__(self):
        self.nodes: dict[str, _Node] = {}
        self.pwc: _Node | None = None
        self.fwc: _Node | None = None

    def empty(self) -> bool:
        return not self.nodes and self.pwc is None and self.fwc is None


class SubjectIndex:
    """A token trie of subscriptions, as the server's sublist.

    ``match(subject)`` walks only the branches the subject's tokens select, so its cost does not
    grow with unrelated subscriptions; results are cached per subject (up to ``cache_size``
    subjects) from the second time a subject is matched, and the caches are cleared by
    ``add``/``remove``. Subjects matched once (request inboxes, ``$JS.ACK`` subjects) thus never
    fill the cache. Those usually differ from each other only in tokens that meet nothing but
    wildcards (``_INBOX.<nuid>.*``, a consumer's ``$JS.ACK.<stream>.<consumer>.*...``): a walk
    notes the deepest token a literal branch looked at, and its result is kept for every subject
    with the same tokens up to there and as many tokens in all (a *shape*), without a walk.
    Queue groups come out in the order their names were first added.

    >>> index = SubjectIndex()
    >>> a, b = Sub("a.>"), Sub(">")
    >>> index.add(a); index.add(b)
    >>> sorted(s.subject for s in index.match("a.b").plain)
    ['>', 'a.>']
    >>> index.remove(a)
    >>> index.match("a.b").plain == [b], len(index)
    (True, 1)
    """

    def __init__(self, *, cache_size: int = 1024):
        self._root = _Level()
        self._cache: dict[str, SubjectMatch] = {}
        self._cache_size = cache_size
        self._seen: set[str] = set()     # subjects matched once and not cached (yet)
        #: (the tokens up to the deepest a literal branch looked at, joined; token count) ->
        #: the match of every subject of that shape; token count -> those depths
        self._shapes: dict[tuple[str, int], SubjectMatch] = {}
        self._depths: dict[int, list[int]] = {}
        self._count = 0
        self._queue_order: dict[str, int] = {}

    def __len__(self) -> int:
        return self._count

    def add(self, sub) -> None:
        """Add ``sub`` (its ``.subject`` must be a valid subscription subject)."""
        level = self._root
        node = None
        for token in sub.subject.split("."):
            if token == "*":
                node = level.pwc or _Node()
                level.pwc = node
            elif token == ">":
                node = level.fwc or _Node()
                level.fwc = node
            else:
                node = level.nodes.get(token)
                if node is None:
                    node = level.nodes[token] = _Node()
            if node.next is None:
                node.next = _Level()
            level = node.next
        queue = sub.queue or ""
        if queue:
            self._queue_order.setdefault(queue, len(self._queue_order))
            node.queues.setdefault(queue, []).append(sub)
        else:
            node.plain.append(sub)
        self._count += 1
        self._forget()

    def remove(self, sub) -> None:
        """Remove ``sub``; a subscription not in the index is ignored."""
        path: list[tuple[_Level, str, _Node]] = []
        level = self._root
        for token in sub.subject.split("."):
            if level is None:
                return
            if token == "*":
                node = level.pwc
            elif token == ">":
                node = level.fwc
            else:
                node = level.nodes.get(token)
            if node is None:
                return
            path.append((level, token, node))
            level = node.next
        node = path[-1][2]
        queue = sub.queue or ""
        members = node.queues.get(queue) if queue else node.plain
        if not members or not any(m is sub for m in members):
            return
        for i, member in enumerate(members):
            if member is sub:
                del members[i]
                break
        if queue and not members:
            del node.queues[queue]
        self._count -= 1
        self._forget()
        for level, token, node in reversed(path):  # prune empty branches
            if node.plain or node.queues or (node.next is not None and not node.next.empty()):
                break
            if token == "*":
                level.pwc = None
            elif token == ">":
                level.fwc = None
            else:
                del level.nodes[token]

    def _forget(self) -> None:
        self._cache.clear()
        self._shapes.clear()
        self._depths.clear()

    def match(self, subject: str) -> SubjectMatch:
        """The subscriptions a publish to ``subject`` reaches (matched literally).

        >>> index = SubjectIndex()
        >>> index.add(Sub("_INBOX.a.*"))
        >>> index.match("_INBOX.a.1") is index.match("_INBOX.a.2")  # one shape: _INBOX.a.?
        True
        >>> index._shapes
        {('_INBOX.a', 3): SubjectMatch(plain=[Sub(subject='_INBOX.a.*', queue='')], groups=[])}
        """
        result = self._cache.get(subject)
        if result is not None:
            return result
        tokens = subject.split(".")
        if "" in tokens:
            return _EMPTY
        count = len(tokens)
        depths = self._depths.get(count)
        if depths is not None:
            shapes = self._shapes
            for depth in depths:
                result = shapes.get((".".join(tokens[:depth + 1]), count))
                if result is not None:
                    return result
        nodes: list[_Node] = []
        depth = _collect(self._root, tokens, 0, nodes)
        if len(nodes) == 1 and not nodes[0].queues:       # the common case: one node, no queues
            result = _new_match(SubjectMatch, (nodes[0].plain.copy(), []))
        else:
            plain: list = []
            queues: dict[str, list] = {}
            for node in nodes:
                plain.extend(node.plain)
                for name, members in node.queues.items():
                    queues.setdefault(name, []).extend(members)
            if len(queues) > 1:
                order = self._queue_order
                groups = [queues[name] for name in sorted(queues, key=order.__getitem__)]
            else:
                groups = list(queues.values())
            result = _new_match(SubjectMatch, (plain, groups))
        if depth < count - 1:            # the last tokens met only wildcards: a shape
            shapes = self._shapes
            if len(shapes) >= self._cache_size:
                shapes.clear()
                self._depths.clear()
            shapes[(".".join(tokens[:depth + 1]), count)] = result
            depths = self._depths.setdefault(count, [])
            if depth not in depths:
                depths.append(depth)
            return result
        seen = self._seen
        if subject in seen:
            cache = self._cache
            if len(cache) >= self._cache_size:
                cache.clear()
            cache[subject] = result
        else:
            if len(seen) >= self._cache_size:
                seen.clear()
            seen.add(subject)
        return result


def _collect(level: _Level | None, tokens: list[str], start: int, out: list[_Node]) -> int:
    """Append to ``out`` every node matching ``tokens[start:]`` below ``level`` (sublist.go);
    return the index of the deepest token a literal branch looked at (-1: none did), so the
    result depends on no later token but through their number.

    A level whose only way on is ``*`` (no literal tokens below it, as in the ``*`` chain of a
    consumer's ``$JS.ACK`` interest) is walked in this loop, not by a recursive call: the
    same nodes in the same order."""
    node = pwc = None
    looked = -1
    last = len(tokens) - 1
    for i in range(start, last + 1):
        if level is None:
            return looked
        if level.fwc is not None:
            out.append(level.fwc)
        pwc = level.pwc
        nodes = level.nodes
        if pwc is not None and i < last:
            if not nodes:
                level, node = pwc.next, None
                continue
            deeper = _collect(pwc.next, tokens, i + 1, out)
            if deeper > looked:
                looked = deeper
        if nodes and i > looked:
            looked = i
        node = nodes.get(tokens[i])
        level = node.next if node is not None else None
    if node is not None:
        out.append(node)
    if pwc is not None:
        out.append(pwc)
    return looked
