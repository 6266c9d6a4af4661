"""Load and check the whole configuration once: jobs.yaml, the site settings and mapping files.

Every problem is collected (schema, names, cross-references) and raised together as one
`ConfigError`, each located as `file:line:col: $.key.path: message`. What comes out is
frozen dataclasses in which every name is already resolved.
"""

from __future__ import annotations

import difflib
import json
import string
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

import jinja2
import jsonschema

from .endpoints import ENDPOINTS, Endpoint
from .errors import ConfigError, ConfigProblem, TransformerError
from .rules import DEFAULT_RULE_BY_TYPE, RULES, Rule
from .sfcc import SYSTEM_BY_NAME, SystemAttribute
from .yamlload import Loaded, load_yaml

@dataclass(frozen=True)
class EngineSpec:
    """What a job naming this engine must declare, checked when the config loads."""

    description: str
    mappings: tuple[str, ...] = ()  # mapping roles it reads
    record_outputs: bool = False  # its outputs render records, so each needs a record_template


# Every engine a job may name; the pipeline says which are implemented.
ENGINES: dict[str, EngineSpec] = {
    "attributes-metadata": EngineSpec("attribute definitions and options as Product metadata", ("products",), True),
    "assets": EngineSpec("asset families and assets (binaries or links)", ("assets",), True),
    "media-assets-pricebook": EngineSpec("media files, assets and one pricebook per currency", ("prices",), True),
    "master-catalog": EngineSpec("products and product models as master catalog products", ("products",), True),
    "variations": EngineSpec("product models as variation masters, groups and variants", ("products",), True),
    "images": EngineSpec("product image groups from image attributes and assets", ("assets", "products"), True),
    "storefront-catalog": EngineSpec("categories, category assignments and recommendations",
                                     ("categories", "products"), True),
    "reference-entities": EngineSpec("reference entities and records as content assets", ("content",), True),
    "record-grouping": EngineSpec("records grouped into a content attribute group", ("content",), True),
    "catalog-refinements": EngineSpec("refinement definitions saved from a catalog export", ("categories",)),
}

MAPPING_SCHEMAS = {role: f"{role}.schema.json" for role in ("products", "categories", "prices", "assets", "content")}
OUTPUT_PLACEHOLDERS = ("master_catalog", "storefront_catalog", "library", "site")
DOWNLOADABLE = ("media-files", "assets")


def frozen(value: object) -> object:
    """Read-only copy of nested YAML data."""
    if isinstance(value, dict):
        return MappingProxyType({k: frozen(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(frozen(v) for v in value)
    return value


def thawed(value: object) -> object:
    """Plain (JSON-serialisable) copy of frozen data."""
    if isinstance(value, Mapping):
        return {k: thawed(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thawed(v) for v in value]
    return value


@dataclass(frozen=True)
class Site:
    master_catalog: str
    storefront_catalog: str
    site: str | None
    library: str | None
    channel: str
    locales: Mapping[str, str]  # PIM locale -> xml:lang, in file order
    default_locale: str
    currencies: tuple[str, ...]


@dataclass(frozen=True)
class Field:
    """One mapped value: where it comes from, the rule and its arguments, and a default."""

    sources: tuple[str, ...]
    rule: Rule | None  # None: the default rule of the source's attribute type
    args: Mapping
    default: str | None
    origin: str  # file:line:col, for errors found at run time


@dataclass(frozen=True)
class AttributeOverride:
    id: str | None
    rule: Rule | None
    args: Mapping


@dataclass(frozen=True)
class ProductMapping:
    file: str
    origin: str  # file:line:col of custom_attributes, for errors found at run time
    system: tuple[tuple[SystemAttribute, Field], ...]
    include: frozenset[str] | None  # None: all attributes
    exclude: frozenset[str]
    rules_by_type: Mapping[str, Rule]
    attributes: Mapping[str, AttributeOverride]
    deleted: str = "offline"  # what to write for products deleted in the PIM: offline | delete
    variations: str = "master-variation"  # or master-group-variation
    associations: Mapping = field(default_factory=lambda: MappingProxyType({}))  # the `associations` section
    clear_empty: str = "selects"  # family attributes written empty when a product has no value: selects | all | none


@dataclass(frozen=True)
class Source:
    endpoint: Endpoint
    search: Mapping | None
    scope: str | None
    locales: tuple[str, ...]
    attributes: tuple[str, ...]
    download: bool = False
    download_errors: str = "report"


@dataclass(frozen=True)
class Output:
    template: str
    record_template: str | None
    path: str  # relative to the archive root, placeholders filled


@dataclass(frozen=True)
class Job:
    id: str
    alias: str | None
    title: str
    engine: str
    mode: str
    sources: tuple[Source, ...]
    mappings: Mapping[str, object]  # role -> ProductMapping, or the frozen YAML of other roles
    outputs: tuple[Output, ...]


@dataclass(frozen=True)
class Config:
    root: Path
    templates: Path
    site: Site
    jobs: Mapping[str, Job]
    chains: Mapping[str, tuple[str, ...]]
    aliases: Mapping[str, str]

    def resolve(self, name: str) -> tuple[str, ...]:
        """Job ids to run for a job id, alias or chain name."""
        if name in self.chains:
            return self.chains[name]
        job_id = self.aliases.get(name, name)
        if job_id in self.jobs:
            return (job_id,)
        names = sorted(set(self.jobs) | set(self.aliases) | set(self.chains))
        raise TransformerError(f"no job or chain named '{name}'{hint(name, names)} (`akeneo-sfcc jobs` lists them)")


def hint(name: str, candidates) -> str:
    """` (did you mean 'x'?)` for a near miss, else ''."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


@cache
def schema(name: str) -> dict:
    return json.loads(resources.files("transformer").joinpath("schemas", name).read_text(encoding="utf-8"))


def load_config(root: Path) -> Config:
    """Load and check the configuration in `root`; raises ConfigError with every problem."""
    return _Loader(Path(root)).load()


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list:
    return value if isinstance(value, list) else []


class _Loader:
    """Collects every problem: checks after a schema failure still run on what is well-formed."""

    def __init__(self, root: Path):
        self.root = root
        self.problems: list[ConfigProblem] = []
        self.files: dict[tuple[str, str], Loaded] = {}

    # -- files --------------------------------------------------------------------------

    def load_file(self, relative: str, schema_name: str) -> Loaded:
        """Parse and schema-check one file once per schema; problems are collected."""
        key = (relative, schema_name)
        if key not in self.files:
            loaded = load_yaml(self.root / relative, relative)
            self.problems += loaded.problems
            if not loaded.problems:
                self.problems += schema_problems(loaded, schema(schema_name))
            self.files[key] = loaded
        return self.files[key]

    def add(self, loaded: Loaded, path: tuple, message: str) -> None:
        self.problems.append(loaded.problem(path, message))

    def exists(self, loaded: Loaded, path: tuple, relative: object, what: str) -> bool:
        if not isinstance(relative, str):
            return False
        if not (self.root / relative).is_file():
            self.add(loaded, path, f"{what} not found: {relative}")
            return False
        return True

    # -- whole config ---------------------------------------------------------------------

    def load(self) -> Config:
        jobs_file = self.load_file("jobs.yaml", "jobs.schema.json")
        doc = _dict(jobs_file.data)
        site = self.site(doc.get("settings"), jobs_file)
        job_specs = {k: v for k, v in _dict(doc.get("jobs")).items() if isinstance(v, dict)}
        aliases = self.aliases(job_specs, jobs_file)
        jobs = {job_id: self.job(job_id, spec, jobs_file) for job_id, spec in job_specs.items()}
        chains = {name: self.chain(name, members, job_specs, aliases, jobs_file)
                  for name, members in _dict(doc.get("chains")).items()}
        self.template_syntax()
        self.same_filters(job_specs, jobs_file)
        if self.problems:
            raise ConfigError(sorted(set(self.problems), key=lambda p: (p.file, p.line, p.column, p.message)))
        return Config(self.root, self.root / "templates", site, MappingProxyType(jobs),
                      MappingProxyType(chains), MappingProxyType(aliases))

    def same_filters(self, jobs: dict, jobs_file: Loaded) -> None:
        """The store keeps one copy of each item, so every job must read an endpoint the same way:
        a narrower read by one job would drop (or strip values of) items another job relies on."""
        first: dict[str, tuple[str, object]] = {}
        for job_id, spec in jobs.items():
            for index, source in enumerate(_list(spec.get("sources"))):
                endpoint = ENDPOINTS.get(source.get("endpoint")) if isinstance(source, dict) else None
                if endpoint is None or not endpoint.filtered:
                    continue
                filters = {k: source[k] for k in ("search", "scope", "locales", "attributes") if k in source}
                seen = first.setdefault(endpoint.name, (job_id, filters))
                if seen[1] != filters:
                    self.add(jobs_file, ("jobs", job_id, "sources", index),
                             f"'{endpoint.name}' is read with other filters than in job '{seen[0]}': the store keeps "
                             f"one copy, so every job must read it the same way (share them with a YAML anchor)")

    def site(self, relative: object, jobs_file: Loaded) -> Site | None:
        if not self.exists(jobs_file, ("settings",), relative, "settings file"):
            return None
        loaded = self.load_file(relative, "site.schema.json")
        data = _dict(loaded.data)
        locales = _dict(data.get("locales"))
        default = data.get("default_locale")
        if isinstance(default, str) and locales and default not in locales:
            self.add(loaded, ("default_locale",), f"'{default}' is not one of the locales{hint(default, locales)}")
        owners: dict[str, str] = {}
        for locale, language in locales.items():
            if language == "x-default":
                self.add(loaded, ("locales", locale), "x-default is written from default_locale; map to a language")
            elif language in owners:
                self.add(loaded, ("locales", locale), f"'{language}' is already the language of '{owners[language]}'")
            owners.setdefault(language, locale)
        return Site(data.get("master_catalog"), data.get("storefront_catalog"), data.get("site"), data.get("library"),
                    data.get("channel"), MappingProxyType(dict(locales)), default, tuple(_list(data.get("currencies"))))

    def aliases(self, jobs: dict, jobs_file: Loaded) -> dict[str, str]:
        aliases: dict[str, str] = {}
        for job_id, spec in jobs.items():
            alias = spec.get("alias")
            if not isinstance(alias, str):
                continue
            if alias in aliases:
                self.add(jobs_file, ("jobs", job_id, "alias"), f"alias '{alias}' is already used by job '{aliases[alias]}'")
            aliases[alias] = job_id
        return aliases

    def chain(self, name: str, members: object, jobs: dict, aliases: dict, jobs_file: Loaded) -> tuple[str, ...]:
        resolved = []
        for index, member in enumerate(_list(members)):
            job_id = aliases.get(member, member)
            if isinstance(member, str) and job_id not in jobs:
                self.add(jobs_file, ("chains", name, index), f"unknown job '{member}'{hint(member, list(jobs) + list(aliases))}")
            resolved.append(job_id)
        return tuple(resolved)

    # -- one job --------------------------------------------------------------------------

    def job(self, job_id: str, spec: dict, jobs_file: Loaded) -> Job:
        where = ("jobs", job_id)
        engine = spec.get("engine")
        if isinstance(engine, str) and engine not in ENGINES:
            self.add(jobs_file, where + ("engine",), f"unknown engine '{engine}'{hint(engine, ENGINES)}")
        sources = tuple(self.source(s, where + ("sources", i), jobs_file)
                        for i, s in enumerate(_list(spec.get("sources"))) if isinstance(s, dict))
        mappings = {role: self.mapping(role, relative, where + ("mappings", role), jobs_file)
                    for role, relative in _dict(spec.get("mappings")).items() if role in MAPPING_SCHEMAS}
        outputs = tuple(self.output(o, where + ("outputs", i), jobs_file)
                        for i, o in enumerate(_list(spec.get("outputs"))) if isinstance(o, dict))
        if engine in ENGINES:
            self.engine_needs(ENGINES[engine], spec, where, jobs_file)
        return Job(job_id, spec.get("alias"), spec.get("title"), engine, spec.get("mode"), sources,
                   MappingProxyType(mappings), outputs)

    def engine_needs(self, needs: EngineSpec, spec: dict, where: tuple, jobs_file: Loaded) -> None:
        engine = spec["engine"]
        for role in needs.mappings:
            if role not in _dict(spec.get("mappings")):
                self.add(jobs_file, where + ("mappings",), f"engine '{engine}' needs a '{role}' mapping")
        if needs.record_outputs:
            outputs = _list(spec.get("outputs"))
            if not outputs:
                self.add(jobs_file, where + ("outputs",), f"engine '{engine}' needs an output")
            for i, output in enumerate(outputs):
                if isinstance(output, dict) and "record_template" not in output:
                    self.add(jobs_file, where + ("outputs", i), f"engine '{engine}' needs a record_template")

    def source(self, spec: dict, where: tuple, jobs_file: Loaded) -> Source | None:
        name = spec.get("endpoint")
        endpoint = ENDPOINTS.get(name) if isinstance(name, str) else None
        if isinstance(name, str) and endpoint is None:
            self.add(jobs_file, where + ("endpoint",), f"unknown endpoint '{name}'{hint(name, ENDPOINTS)}")
        if spec.get("download") and name not in DOWNLOADABLE:
            self.add(jobs_file, where + ("download",), f"endpoint '{name}' has no binaries to download "
                     f"(only {', '.join(DOWNLOADABLE)})")
        if endpoint is not None and not endpoint.filtered:
            for key in ("search", "scope", "locales", "attributes"):
                if key in spec:
                    self.add(jobs_file, where + (key,), f"endpoint '{name}' takes no '{key}' filter")
        return Source(endpoint, frozen(spec.get("search")), spec.get("scope"),
                      tuple(_list(spec.get("locales"))), tuple(_list(spec.get("attributes"))),
                      bool(spec.get("download")), spec.get("download_errors", "report"))

    def output(self, spec: dict, where: tuple, jobs_file: Loaded) -> Output:
        for key in ("template", "record_template"):
            name = spec.get(key)
            if isinstance(name, str) and not (self.root / "templates" / name).is_file():
                self.add(jobs_file, where + (key,), f"template not found: templates/{name}{hint(name, self.templates())}")
        path = spec.get("path")
        if isinstance(path, str):
            self.output_path(path, where + ("path",), jobs_file)
        return Output(spec.get("template"), spec.get("record_template"), path)

    def output_path(self, path: str, where: tuple, jobs_file: Loaded) -> None:
        if any(part in (".", "..") for part in path.split("/")):
            self.add(jobs_file, where, "'.' and '..' are not allowed: outputs stay inside the archive")
        try:
            fields = [name for _, name, _, _ in string.Formatter().parse(path) if name is not None]
        except ValueError as exc:
            self.add(jobs_file, where, f"invalid placeholder: {exc}")
            return
        for name in fields:
            if name not in OUTPUT_PLACEHOLDERS:
                self.add(jobs_file, where, f"unknown placeholder '{{{name}}}'{hint(name, OUTPUT_PLACEHOLDERS)}")

    def template_syntax(self) -> None:
        """Every template parses: a typo is a located config error, not a failed run."""
        env = jinja2.Environment()
        base = self.root / "templates"
        for name in sorted(self.templates()):
            try:
                env.parse((base / name).read_text(encoding="utf-8"))
            except jinja2.TemplateSyntaxError as exc:
                self.problems.append(ConfigProblem(f"templates/{name}", exc.lineno, 1, "$", f"template syntax: {exc.message}"))
            except (OSError, UnicodeDecodeError) as exc:
                self.problems.append(ConfigProblem(f"templates/{name}", 1, 1, "$", f"cannot read template: {exc}"))

    def templates(self) -> list[str]:
        base = self.root / "templates"
        return [p.relative_to(base).as_posix() for p in base.rglob("*.j2")] if base.is_dir() else []

    def mapping(self, role: str, relative: object, where: tuple, jobs_file: Loaded) -> object:
        if not self.exists(jobs_file, where, relative, "mapping file"):
            return None
        loaded = self.load_file(relative, MAPPING_SCHEMAS[role])
        return self.product_mapping(loaded) if role == "products" else frozen(loaded.data)

    # -- product mapping --------------------------------------------------------------------

    def product_mapping(self, loaded: Loaded) -> ProductMapping:
        data = _dict(loaded.data)
        system = tuple((SYSTEM_BY_NAME[name], self.field(spec, ("system", name), loaded))
                       for name, spec in _dict(data.get("system")).items()
                       if name in SYSTEM_BY_NAME and isinstance(spec, dict))
        custom = _dict(data.get("custom_attributes"))
        rules_by_type = {}
        for attribute_type, rule_name in _dict(custom.get("rules_by_type")).items():
            where = ("custom_attributes", "rules_by_type", attribute_type)
            if attribute_type not in DEFAULT_RULE_BY_TYPE:
                self.add(loaded, where, f"unknown attribute type '{attribute_type}'{hint(attribute_type, DEFAULT_RULE_BY_TYPE)}")
            rules_by_type[attribute_type] = self.rule(rule_name, {}, where, where, loaded)
        overrides = {}
        for code, spec in _dict(custom.get("attributes")).items():
            where = ("custom_attributes", "attributes", code)
            spec = _dict(spec)
            rule = self.rule(spec.get("rule"), _dict(spec.get("args")), where + ("rule",), where + ("args",), loaded)
            overrides[code] = AttributeOverride(spec.get("id"), rule, frozen(_dict(spec.get("args"))))
        associations = _dict(data.get("associations"))
        shared = set(_list(_dict(associations.get("product_sets")).get("families"))) & set(
            _list(_dict(associations.get("bundles")).get("families")))
        if shared:
            self.add(loaded, ("associations", "bundles", "families"),
                     f"families {', '.join(sorted(shared))} are also product set families: a product is a set or a bundle")
        include = custom.get("include")
        line, col = loaded.where(("custom_attributes",))
        return ProductMapping(loaded.file, f"{loaded.file}:{line}:{col}", system, frozenset(include) if isinstance(include, list) else None,
                              frozenset(_list(custom.get("exclude"))), MappingProxyType(rules_by_type),
                              MappingProxyType(overrides), data.get("deleted_products", "offline"),
                              data.get("variations", "master-variation"), frozen(data.get("associations", {})),
                              data.get("clear_empty_values", "selects"))

    def field(self, spec: dict, where: tuple, loaded: Loaded) -> Field:
        sources = spec.get("from", ())
        sources = (sources,) if isinstance(sources, str) else tuple(_list(sources))
        if not sources and "default" not in spec:
            self.add(loaded, where, "needs 'from' or 'default'")
        default = spec.get("default")
        if isinstance(default, bool):
            default = "true" if default else "false"
        elif default is not None:
            default = str(default)
        line, col = loaded.where(where + ("from",))
        args = _dict(spec.get("args"))
        rule = self.rule(spec.get("rule"), args, where + ("rule",), where + ("args",), loaded)
        return Field(sources, rule, frozen(args), default, f"{loaded.file}:{line}:{col}")

    def rule(self, name: object, args: dict, where: tuple, args_where: tuple, loaded: Loaded) -> Rule | None:
        """The rule called `name`, its arguments checked against its parameters."""
        if not isinstance(name, str):
            if args:
                self.add(loaded, args_where, "args given without a rule")
            return None
        found = RULES.get(name)
        if found is None:
            self.add(loaded, where, f"unknown rule '{name}'{hint(name, RULES)}")
            return None
        for arg, value in args.items():
            if arg not in found.params:
                allowed = ", ".join(found.params) or "none"
                self.add(loaded, args_where + (arg,),
                         f"rule '{name}' takes no argument '{arg}'{hint(arg, found.params)} (arguments: {allowed})")
            elif isinstance(value, bool) or not isinstance(value, found.params[arg]):
                wanted = " or ".join(t.__name__ for t in found.params[arg])
                self.add(loaded, args_where + (arg,), f"argument '{arg}' of rule '{name}' must be {wanted}, not {_short(value)}")
        return found


def schema_problems(loaded: Loaded, schema_doc: dict) -> list[ConfigProblem]:
    """Every schema violation of a document, each at the key it is about."""
    validator = jsonschema.Draft202012Validator(schema_doc)
    problems = []
    for error in validator.iter_errors(loaded.data):
        path = tuple(error.absolute_path)
        if "propertyNames" in error.absolute_schema_path:
            expected = error.schema.get("x-expected")
            reason = f"not {expected}" if expected else error.message
            problems.append(loaded.problem(path + (error.instance,), f"invalid key {_short(error.instance)}: {reason}"))
        elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = list(error.schema.get("properties", {}))
            for key in sorted(set(error.instance) - set(known)):
                problems.append(loaded.problem(path + (key,), f"unknown key '{key}'{hint(key, known)}"))
        elif error.validator == "required":
            problems.append(loaded.problem(path, f"missing required key {error.message.split(' is a required')[0]}"))
        elif error.validator == "enum":
            problems.append(loaded.problem(path, f"{_short(error.instance)} is not one of {', '.join(map(str, error.validator_value))}"
                                           f"{hint(str(error.instance), map(str, error.validator_value))}"))
        elif error.validator == "pattern" and "x-expected" in error.schema:
            problems.append(loaded.problem(path, f"{_short(error.instance)} is not {error.schema['x-expected']}"))
        else:
            problems.append(loaded.problem(path, error.message if len(error.message) < 200 else error.message[:197] + "..."))
    return problems


def _short(value: object) -> str:
    text = f"'{value}'" if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) < 60 else text[:57] + "..."
