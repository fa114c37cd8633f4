"""Work cfn-lint 1.58.0 redoes for every value it validates, done once: no answer changes.

Sampled while linting our templates (a statistical profile: cProfile's own cost skews toward
these small calls), two fifths of cfn-lint's time went to bookkeeping, not to validating, in
code that is the same for every template:

- `cfnlint.jsonschema.validators.create` made a new dataclass (`dataclass()` writes and `exec`s
  its methods) every time a rule extends its validator, thousands of times a template, from the
  same few validator sets. Memoized: one class per distinct (validators, function filter,
  resolvers), keyed by what each is (the function, or the bound method's object and function;
  the filter's field values). The cache holds the first mappings it saw, which keeps every keyed
  object alive, so an `id` in a key cannot be reused.
- `dataclasses.fields(cls)`, recomputed on every `evolve` of a validator, context or function
  filter: memoized per class (an instance is passed through as before).
- `Context.evolve` and a validator's `evolve` ran the dataclass __init__ (a frozen one: one
  `object.__setattr__` a field): they copy the instance's fields and apply the changes, where
  that is what __init__ would do (see `_context_evolve`, `_validator_evolve`).
- Rule E1101 (`CfnLint.cfnLint`) scanned every child rule's keywords for every keyword of every
  value: an index by keyword, rebuilt when the child rules are not the very same objects.
- `RefResolver.resolve_fragment` searched the whole schema for an id on every $ref: remembered
  per (schema, fragment).

They touch cfn-lint's internals, so they are applied only to the version they were read
against (`PINNED`, the version requirements.txt pins); any other version runs unpatched, as
cfn-lint ships. tests/test_cfn_lint_pool.py checks that the pin and requirements agree, that the
patches are in place, and that cfn-lint patched, on every core, gives the same messages in the
same order as cfn-lint's own runner (unpatched, in a fresh process) on templates with problems
of many kinds.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterator, Mapping
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cfnlint.rules import Rules

PINNED = "1.58.0"


def apply(rules: Rules) -> bool:
    """Patch cfn-lint, and the E1101 rule of `rules`, if cfn-lint is the pinned version (once;
    idempotent). True when patched. cfn-lint loads its rules from their files as top-level
    modules (`CfnLint`, not `cfnlint.rules.jsonschema.CfnLint`), so the rule's own class is
    patched, found through the loaded rules."""
    if version("cfn-lint") != PINNED:
        return False
    import cfnlint.context.context
    import cfnlint.jsonschema._filter
    import cfnlint.jsonschema.validators as validators
    from cfnlint.schema.resolver import RefResolver

    if not getattr(validators.create, "memoized", False):
        validators.create = _memoized_create(validators.create)
        for module in (cfnlint.context.context, validators, cfnlint.jsonschema._filter):
            module.fields = _fields
        context = cfnlint.context.context.Context
        context.evolve = _context_evolve(context, context.evolve)
        resolver = RefResolver
        resolver.resolve_fragment = _memoized_fragment(resolver.resolve_fragment)
    rule = rules.data.get("E1101")
    if rule is not None and type(rule).__name__ == "CfnLint":
        type(rule).cfnLint = _cfn_lint_by_keyword
    return True


@functools.cache
def _class_fields(cls: type) -> tuple[dataclasses.Field[Any], ...]:
    return dataclasses.fields(cls)


def _fields(class_or_instance: Any) -> tuple[dataclasses.Field[Any], ...]:
    if isinstance(class_or_instance, type):
        return _class_fields(class_or_instance)
    return dataclasses.fields(class_or_instance)


def _context_evolve(context: type, evolve: Callable[..., Any]) -> Callable[..., Any]:
    """Context.evolve without running the frozen dataclass's __init__ (its assignments, one
    `object.__setattr__` a field, were a tenth of the time): a copy of the fields, then the
    changes, with ref_values merged as cfn-lint merges them. Context has no __post_init__,
    every field is an init field, and its instance dict holds the fields (each set by __init__)
    and, once read, the cached `module_names`, which is not carried over. Anything else (a
    subclass, a name that is not a field) goes to cfn-lint's own evolve, which raises what it
    raises."""
    names = tuple(f.name for f in dataclasses.fields(context))
    known = frozenset(names)

    def fast(self: Any, **kwargs: Any) -> Any:
        if type(self) is not context or not known.issuperset(kwargs):
            return evolve(self, **kwargs)
        values = self.__dict__.copy()
        if len(values) != len(names):  # a cached property's value besides the fields
            values = {name: values[name] for name in names}
        if "ref_values" in kwargs:
            merged = dict(values["ref_values"])
            merged.update(kwargs["ref_values"])
            kwargs["ref_values"] = merged
        values.update(kwargs)
        new = object.__new__(context)
        new.__dict__.update(values)
        return new

    return fast


def _validator_evolve(validator: type, evolve: Callable[..., Any]) -> Callable[..., Any]:
    """The evolve of a validator class `create` made, without its dataclass __init__: the
    instance's attributes, then the changes. Equal to cfn-lint's when every change names an
    init field and is not None (a None context or resolver is filled in by __post_init__: that
    goes to cfn-lint's evolve, as does an instance of another class). The fields __init__ does
    not take come from the class's factories, the same objects for every instance of it, and
    no instance is changed after it is made."""
    names = frozenset(f.name for f in dataclasses.fields(validator) if f.init)

    def fast(self: Any, **kwargs: Any) -> Any:
        if type(self) is not validator or not names.issuperset(kwargs) or None in kwargs.values():
            return evolve(self, **kwargs)
        new = object.__new__(validator)
        new.__dict__.update(self.__dict__)
        new.__dict__.update(kwargs)
        return new

    return fast


def _memoized_fragment(resolve: Callable[..., Any]) -> Callable[..., Any]:
    """RefResolver.resolve_fragment remembered per (document, fragment): it reads only those two
    (a breadth-first search of the document for an id, then a JSON pointer), and the schemas it
    reads are loaded once and never changed while linting. The document is held with the answer,
    so its id is not reused; a fragment that does not resolve raises each time, as before."""
    cache: dict[tuple[int, str], tuple[Any, Any]] = {}

    def memoized(self: Any, document: Any, fragment: str) -> Any:
        key = (id(document), fragment)
        hit = cache.get(key)
        if hit is None or hit[0] is not document:
            hit = cache[key] = (document, resolve(self, document, fragment))
        return hit[1]

    return memoized


def _identity(value: Any) -> Any:
    """A hashable stand-in for a validator callable: a bound method by its object and function
    (rules define __eq__ without __hash__), anything else as itself."""
    owner = getattr(value, "__self__", None)
    function = getattr(value, "__func__", None)
    return (id(owner), function) if owner is not None and function is not None else value


def _memoized_create(create: Callable[..., type]) -> Callable[..., type]:
    cache: dict[Any, tuple[type, Any, Any]] = {}

    def memoized(
        validators: Mapping[str, Any] | None = None,
        function_filter: Any = None,
        fn_resolvers: Mapping[str, Any] | None = None,
    ) -> type:
        try:
            key = (
                tuple((name, _identity(v)) for name, v in (validators or {}).items()),
                None
                if function_filter is None
                else (
                    type(function_filter),
                    *(
                        getattr(function_filter, f.name)
                        for f in _fields(type(function_filter))
                        if f.init
                    ),
                ),
                tuple((name, _identity(v)) for name, v in (fn_resolvers or {}).items()),
            )
            hash(key)
        except TypeError:  # something unhashable: build the class as cfn-lint does
            return create(validators, function_filter, fn_resolvers)
        if key not in cache:
            made = create(validators, function_filter, fn_resolvers)
            made.evolve = _validator_evolve(made, made.evolve)  # type: ignore[attr-defined]
            # The mappings are kept with the class: they hold the keyed objects alive.
            cache[key] = (made, validators, fn_resolvers)
        return cache[key][0]

    memoized.memoized = True  # type: ignore[attr-defined]
    return memoized


def _cfn_lint_by_keyword(
    self: Any, validator: Any, keywords: Any, instance: Any, schema: Any
) -> Iterator[Any]:
    """cfn-lint's CfnLint.cfnLint (rule E1101), the same calls in the same order, with the
    child rules found through an index by keyword instead of a scan of every child rule's
    keywords for every keyword of every value validated."""
    from cfnlint.jsonschema._utils import Unset

    validator = validator.evolve(
        function_filter=validator.function_filter.evolve(add_cfn_lint_keyword=False)
    )
    by_keyword = _rules_by_keyword(self.child_rules)
    for keyword in keywords:
        for rule in by_keyword.get(keyword, ()):
            for err in rule.validate(validator, keyword, instance, schema):
                if err.rule is None and isinstance(err.validator, Unset):
                    err.rule = rule
                yield err


# Rules.run re-assigns every rule's child rules before each template: the index is rebuilt when
# they are not the very objects it was built from (a tuple compares its items by identity first,
# so the check is one C-level pass).
_INDEX: dict[str, tuple[tuple[Any, ...], dict[str, list[Any]]]] = {}


def _rules_by_keyword(child_rules: Mapping[str, Any]) -> dict[str, list[Any]]:
    rules = tuple(child_rules.values())
    built = _INDEX.get("E1101")
    if built is not None and built[0] == rules:
        return built[1]
    index: dict[str, list[Any]] = {}
    for rule in rules:
        if rule is None or not rule.id:
            continue
        for keyword in rule.keywords:  # a keyword listed twice is validated twice
            index.setdefault(keyword, []).append(rule)
    _INDEX["E1101"] = (rules, index)
    return index
