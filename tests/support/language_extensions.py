"""Expand ``Fn::ForEach`` the way ``AWS::LanguageExtensions`` does, for the
template tests: templates/source-account.yaml declares one filter per listed
group with it (template.yaml itself needs no loop)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

FOR_EACH = "Fn::ForEach::"
LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"

Json = dict[str, Any]
ParameterValue = str | tuple[str, ...]


class TemplateExpansionError(ValueError):
    """The template cannot be expanded the way AWS::LanguageExtensions would."""


def _parameter_list(value: ParameterValue) -> list[str]:
    return list(value) if isinstance(value, tuple) else [part.strip() for part in value.split(",")]


def _substitute(node: Any, identifier: str, value: str) -> Any:
    """Replace ``${id}``, ``&{id}`` (alphanumerics only) and ``Ref: id`` everywhere in ``node``."""
    if isinstance(node, str):
        logical = re.sub(r"[^A-Za-z0-9]", "", value)
        return node.replace(f"${{{identifier}}}", value).replace(f"&{{{identifier}}}", logical)
    if isinstance(node, list):
        return [_substitute(item, identifier, value) for item in node]
    if isinstance(node, dict):
        if node == {"Ref": identifier}:
            return value
        return {
            _substitute(key, identifier, value): _substitute(item, identifier, value)
            for key, item in node.items()
        }
    return node


def _collection(raw: Any, parameters: Mapping[str, ParameterValue]) -> list[str]:
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        return list(raw)
    if isinstance(raw, dict) and set(raw) == {"Ref"} and raw["Ref"] in parameters:
        return _parameter_list(parameters[raw["Ref"]])
    raise TemplateExpansionError(f"Fn::ForEach collection {raw!r} is not a list or a bound Ref")


def expand_for_each(node: Any, parameters: Mapping[str, ParameterValue]) -> Any:
    """Expand every ``Fn::ForEach::<name>`` in ``node`` with ``parameters`` bound."""
    if isinstance(node, list):
        return [expand_for_each(item, parameters) for item in node]
    if not isinstance(node, dict):
        return node
    expanded: Json = {}
    loops: list[tuple[str, Any]] = []
    for key, value in node.items():
        if key.startswith(FOR_EACH):
            loops.append((key, value))
        else:
            expanded[key] = expand_for_each(value, parameters)
    for name, loop in loops:
        if not (isinstance(loop, list) and len(loop) == 3 and isinstance(loop[0], str)):
            raise TemplateExpansionError(f"{name} must be [identifier, collection, fragment]")
        identifier, raw_collection, fragment = loop
        if not isinstance(fragment, dict):
            raise TemplateExpansionError(f"{name}: the fragment must be a mapping")
        for item in _collection(raw_collection, parameters):
            produced = expand_for_each(_substitute(fragment, identifier, item), parameters)
            for key, value in produced.items():
                if key in expanded:
                    raise TemplateExpansionError(f"{name}: {item!r} produces duplicate key {key}")
                expanded[key] = value
    return expanded


def expanded_template(template: Json, parameters: Mapping[str, ParameterValue]) -> Json:
    """``template`` after AWS::LanguageExtensions: loops expanded, that transform gone."""
    document: Json = expand_for_each(template, parameters)
    transforms = document.pop("Transform", None)
    rest = [t for t in ([transforms] if isinstance(transforms, str) else transforms or [])]
    rest = [t for t in rest if t != LANGUAGE_EXTENSIONS]
    if rest:
        document["Transform"] = rest
    return document
