"""Two memoizations in cfn-lint 1.58.0's internals that change no answer, only the time.

Sampled while linting our templates, a fifth of cfn-lint's time went to building classes, not to
validating: every time a rule extends its JSON-schema validator (thousands of times a template),
`cfnlint.jsonschema.validators.create` makes a new dataclass (`dataclass()` writes and `exec`s
its methods) from the same few validator sets; and `dataclasses.fields(cls)` is recomputed on
every `evolve` of a validator, context or function filter. Both are pure functions of their
arguments, so they are memoized here:

- `create`: one class per distinct (validators, function filter, resolvers), keyed by what each
  is (the function, or the bound method's object and function; the filter's field values). The
  cache holds the first mappings it saw, which keeps every keyed object alive, so an `id` in a
  key cannot be reused. Equal keys mean the same callables, so the class is the same.
- `fields`: per class (a class's dataclass fields never change once built); an instance is
  passed through to `dataclasses.fields` as before.

They touch module globals of cfn-lint's, so they are applied only to the version they were read
against (`PINNED`, the version requirements.txt pins); any other version runs unpatched, as
cfn-lint ships. tests/test_cfn_lint_patches.py checks that the pin and requirements agree and
that patched and unpatched cfn-lint give the same messages on templates with many problems.
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

    if not getattr(validators.create, "memoized", False):
        validators.create = _memoized_create(validators.create)
        for module in (cfnlint.context.context, validators, cfnlint.jsonschema._filter):
            module.fields = _fields
        context = cfnlint.context.context.Context
        context.evolve = _context_evolve(context, context.evolve)
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
