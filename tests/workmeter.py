"""Counting the work a function does, to compare it at n and 2n instead of timing it.

Work is the Python lines executed (``sys.settrace``, in every module, the standard library
included) plus the characters the regular expressions of the watched modules scan. A scan is
counted from where it starts to where it matched, or to the end of the text when it found
nothing: a parser that searches the rest of its input again for each of n constructs does
quadratic work here even though its Python loop is linear. What the regex engine does inside
one call (backtracking) and C-level scans such as ``str.find`` or ``x in list`` are not seen.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest


class Meter:
    def __init__(self) -> None:
        self.lines = 0
        self.scanned = 0

    @property
    def work(self) -> int:
        return self.lines + self.scanned


class CountingPattern:
    """A compiled pattern that adds what it scans to the meter."""

    def __init__(self, real: re.Pattern, meter: Meter) -> None:
        self._real, self._meter = real, meter

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def _scanned(self, found: re.Match | None, string: Any, pos: int) -> re.Match | None:
        end = found.end() if found else len(string)
        self._meter.scanned += max(end - pos, 1)
        return found

    def search(self, string: Any, pos: int = 0, endpos: int = sys.maxsize) -> re.Match | None:
        return self._scanned(self._real.search(string, pos, endpos), string, pos)

    def match(self, string: Any, pos: int = 0, endpos: int = sys.maxsize) -> re.Match | None:
        found = self._real.match(string, pos, endpos)
        self._meter.scanned += found.end() - pos if found else 1
        return found

    def fullmatch(self, string: Any, pos: int = 0, endpos: int = sys.maxsize) -> re.Match | None:
        found = self._real.fullmatch(string, pos, endpos)
        self._meter.scanned += found.end() - pos if found else 1
        return found

    def _whole(self, string: Any, pos: int = 0) -> None:
        self._meter.scanned += max(len(string) - pos, 1)

    def finditer(self, string: Any, pos: int = 0, endpos: int = sys.maxsize):
        self._whole(string, pos)
        return self._real.finditer(string, pos, endpos)

    def findall(self, string: Any, pos: int = 0, endpos: int = sys.maxsize):
        self._whole(string, pos)
        return self._real.findall(string, pos, endpos)

    def sub(self, repl: Any, string: Any, count: int = 0):
        self._whole(string)
        return self._real.sub(repl, string, count)

    def subn(self, repl: Any, string: Any, count: int = 0):
        self._whole(string)
        return self._real.subn(repl, string, count)

    def split(self, string: Any, maxsplit: int = 0):
        self._whole(string)
        return self._real.split(string, maxsplit)


class CountingRe:
    """The ``re`` module as a watched module sees it: its patterns count what they scan."""

    def __init__(self, meter: Meter) -> None:
        self._meter = meter

    def __getattr__(self, name: str) -> Any:
        return getattr(re, name)

    def compile(self, pattern: Any, flags: int = 0) -> CountingPattern:
        if isinstance(pattern, CountingPattern):
            return pattern
        return CountingPattern(re.compile(pattern, flags), self._meter)

    def search(self, pattern: Any, string: Any, flags: int = 0):
        return self.compile(pattern, flags).search(string)

    def match(self, pattern: Any, string: Any, flags: int = 0):
        return self.compile(pattern, flags).match(string)

    def fullmatch(self, pattern: Any, string: Any, flags: int = 0):
        return self.compile(pattern, flags).fullmatch(string)

    def finditer(self, pattern: Any, string: Any, flags: int = 0):
        return self.compile(pattern, flags).finditer(string)

    def findall(self, pattern: Any, string: Any, flags: int = 0):
        return self.compile(pattern, flags).findall(string)

    def sub(self, pattern: Any, repl: Any, string: Any, count: int = 0, flags: int = 0):
        return self.compile(pattern, flags).sub(repl, string, count)

    def subn(self, pattern: Any, repl: Any, string: Any, count: int = 0, flags: int = 0):
        return self.compile(pattern, flags).subn(repl, string, count)

    def split(self, pattern: Any, string: Any, maxsplit: int = 0, flags: int = 0):
        return self.compile(pattern, flags).split(string, maxsplit)


def _counting(value: Any, meter: Meter) -> Any:
    if value is re:
        return CountingRe(meter)
    if isinstance(value, re.Pattern):
        return CountingPattern(value, meter)
    if isinstance(getattr(value, "__self__", None), re.Pattern):  # a bound ``pattern.match``
        return getattr(CountingPattern(value.__self__, meter), value.__name__)
    if isinstance(value, list | tuple) and value and all(isinstance(v, re.Pattern) for v in value):
        return type(value)(CountingPattern(v, meter) for v in value)
    return None


def watch(monkeypatch: pytest.MonkeyPatch, meter: Meter, *modules: ModuleType) -> None:
    """Make the regular expressions of ``modules`` count what they scan on ``meter``."""
    for module in modules:
        for name, value in list(vars(module).items()):
            counting = _counting(value, meter)
            if counting is not None:
                monkeypatch.setattr(module, name, counting)


def lines_run(meter: Meter, call: Callable[[], Any]) -> Any:
    """Call ``call()``, adding each Python line it executes to the meter."""

    def local(frame, event, arg):  # noqa: ARG001
        if event == "line":
            meter.lines += 1
        return local

    def calls(frame, event, arg):  # noqa: ARG001
        return local

    previous = sys.gettrace()
    sys.settrace(calls)
    try:
        return call()
    finally:
        sys.settrace(previous)


def work_at(
    monkeypatch: pytest.MonkeyPatch, modules: tuple[ModuleType, ...], call: Callable[[], Any]
) -> int:
    meter = Meter()
    with monkeypatch.context() as patch:
        watch(patch, meter, *modules)
        lines_run(meter, call)
    return meter.work
