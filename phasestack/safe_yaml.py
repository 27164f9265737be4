"""YAML from files nobody vetted (the PR job loads stack files from pull requests): bounded in
size, nesting and alias expansion, plain keys only, no recursive aliases. Linear in the text:
the checks walk the event stream and the composed graph once, without recursion."""

from __future__ import annotations

import yaml

MAX_BYTES = 1 << 20     # a stack file is a few KiB; 1 MiB is far beyond any real one
MAX_DEPTH = 32          # nesting, counted after alias expansion
MAX_NODES = 20_000      # values, counted after alias expansion (an alias bomb multiplies them)


class YamlLimit(ValueError):
    """The text is YAML, but not a shape a stack file can have."""


def _line(node_or_event) -> str:
    return f"line {node_or_event.start_mark.line + 1}"


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        for key, _ in node.value:
            if not isinstance(key, yaml.ScalarNode):
                raise YamlLimit(f"{_line(key)}: a mapping key must be a plain value, not a "
                                "list or a mapping")
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


# libyaml's parser where PyYAML has it (issue 17); PyYAML's own words a syntax error
FAST = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def compose(text: str) -> yaml.Node | None:
    """The composed YAML graph of `text`, refusing what a stack file cannot be. A syntax error
    is raised as the pure-Python parser words it (the same message with or without libyaml)."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise YamlLimit(f"larger than {MAX_BYTES // 1024} KiB")
    try:
        return _compose(text, FAST)
    except yaml.YAMLError:
        if FAST is yaml.SafeLoader:
            raise
        return _compose(text, yaml.SafeLoader)


def construct(root: yaml.Node | None):
    """The Python value of a composed graph (what yaml.safe_load returns), without parsing the
    text again."""
    return None if root is None else yaml.SafeLoader("").construct_document(root)


def _compose(text: str, loader: type) -> yaml.Node | None:
    depth = 0
    for event in yaml.parse(text, Loader=loader):  # iterative: no RecursionError
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise YamlLimit(f"{_line(event)}: nested deeper than {MAX_DEPTH} levels")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    root = yaml.compose(text, Loader=loader)
    if root is not None:
        _check_graph(root)
    return root


def _check_graph(root: yaml.Node) -> None:
    """Expanded size and depth of every node, once each (aliases share nodes); a node that is
    its own descendant is a recursive alias."""
    size: dict[int, int] = {}
    deep: dict[int, int] = {}
    open_: set[int] = set()
    todo: list[tuple[yaml.Node, bool]] = [(root, False)]
    while todo:
        node, finished = todo.pop()
        key = id(node)
        kids = _children(node)
        if finished:
            open_.discard(key)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            deep[key] = 1 + max((deep[id(k)] for k in kids), default=0)
            if size[key] > MAX_NODES:
                raise YamlLimit(f"{_line(node)}: expands to more than {MAX_NODES:,} values "
                                "(aliases multiply what they refer to)")
            if deep[key] > MAX_DEPTH:
                raise YamlLimit(f"{_line(node)}: nested deeper than {MAX_DEPTH} levels once "
                                "aliases are expanded")
            continue
        if key in size:
            continue
        open_.add(key)
        todo.append((node, True))
        for kid in kids:
            if id(kid) in open_:
                raise YamlLimit(f"{_line(kid)}: an alias refers to a value that contains it "
                                "(recursive alias)")
            if id(kid) not in size:
                todo.append((kid, False))
