"""XML element text and attributes as leaves with XPath-like paths (``/root/item[2]/@id``).

Documents with a DOCTYPE are not parsed: entity declarations are how XML bombs and
external-entity reads work, and devices do not send them to report home. Their text is
still searched as a whole.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

from phonehome.extract.leaf import MAX_SIBLINGS, Leaf, others, sibling_pair

MAX_NESTING = 64


def looks_like_xml(text: str) -> bool:
    return text.lstrip()[:1] == "<" and text.rstrip()[-1:] == ">"


def parse(text: str) -> ET.Element | None:
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        return None
    try:
        return ET.fromstring(text)
    except (ET.ParseError, ValueError, RecursionError):
        return None


def _local(tag: object) -> str:
    name = tag if isinstance(tag, str) else "?"
    return name.rsplit("}", 1)[-1]


def walk(root: ET.Element) -> Iterator[Leaf | None]:
    """Leaves in document order; None once if nesting beyond the bound was cut."""
    stack: list[tuple[ET.Element, str, int, tuple[tuple[str, str], ...]]] = [
        (root, "/" + _local(root.tag), 0, ())
    ]
    cut = False
    while stack:
        elem, path, depth, siblings = stack.pop()
        name = _local(elem.tag)
        text = (elem.text or "").strip()
        if text:
            yield path, name, text, None, siblings
        children = list(elem)
        # context for this element's attributes and children: attributes + leaf children
        pairs: list[tuple[str, str]] = []
        for k, v in elem.attrib.items():
            if len(pairs) <= MAX_SIBLINGS:
                pairs.append(sibling_pair(_local(k), v))
        attr_count = len(pairs)
        leaf_slot: dict[int, int] = {}
        for i, child in enumerate(children):
            leaf_text = (child.text or "").strip() if len(child) == 0 else ""
            if leaf_text and len(pairs) <= MAX_SIBLINGS:
                leaf_slot[i] = len(pairs)
                pairs.append(sibling_pair(_local(child.tag), leaf_text))
        for i, (k, v) in enumerate(elem.attrib.items()):
            if v:
                slot = i if i < attr_count else -1
                yield f"{path}/@{_local(k)}", _local(k), v, None, others(pairs, slot)
        if not children:
            continue
        if depth + 1 >= MAX_NESTING:
            cut = True
            continue
        counts: dict[str, int] = {}
        for child in children:
            counts[_local(child.tag)] = counts.get(_local(child.tag), 0) + 1
        seen: dict[str, int] = {}
        entries = []
        for i, child in enumerate(children):
            cname = _local(child.tag)
            seen[cname] = seen.get(cname, 0) + 1
            step = f"{cname}[{seen[cname]}]" if counts[cname] > 1 else cname
            entries.append(
                (child, f"{path}/{step}", depth + 1, others(pairs, leaf_slot.get(i, -1)))
            )
        stack.extend(reversed(entries))
    if cut:
        yield None
