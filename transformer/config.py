"""Load and check the whole configuration once: jobs.yaml, the site settings and mapping files.

Every problem is collected (schema, names, cross-references, what each job's engine needs) and
raised together as one `ConfigError`, each located as `file:line:col: $.key.path: message`.
Defaults declared in the JSON Schemas are filled in as the files are checked. What comes out is
the frozen dataclasses of `settings`, in which every name is already resolved.
"""

from __future__ import annotations

import copy
import json
import string
from dataclasses import fields
from functools import cache
from importlib import resources
from pathlib import Path

import jinja2
import jsonschema

from .endpoints import ENDPOINTS
from .engines import ENGINES
from .errors import ConfigError, ConfigProblem, TransformerError, hint
from .rules import DEFAULT_RULE_BY_TYPE, RULES, Rule
from .sources.media import DOWNLOADABLE
from .settings import (AssetSettings, AttributeOverride, Associations, CategorySettings, Config, ContentSettings, Engine,
                       FamilyAssociation, Field, Job, Mappings, Output, PriceSettings, ProductMapping, RecordGroup, Site,
                       Source, TypeRule)
from .sfcc import SYSTEM_BY_NAME
from .yamlload import Loaded, load_yaml

MAPPING_SCHEMAS = {f.name: f"{f.name}.schema.json" for f in fields(Mappings)}
OUTPUT_PLACEHOLDERS = ("master_catalog", "storefront_catalog", "library", "site")
SOURCE_FILTERS = ("search", "scope", "locales", "attributes")


@cache
def schema(name: str) -> dict:
    return json.loads(resources.files("transformer").joinpath("schemas", name).read_text(encoding="utf-8"))


@cache
def _checked_schema(name: str) -> dict:
    """The schema the loader checks a file with. The per-engine rules of jobs.schema.json are there
    for editors; the loader checks the same rules from the engine table, in its own words."""
    checked = copy.deepcopy(schema(name))
    checked.get("$defs", {}).get("job", {}).pop("allOf", None)
    return checked


def _filling_defaults(validator_class):
    """A validator class that also fills in every missing property whose schema declares a
    `default` (jsonschema's documented way: extend its `properties` keyword)."""
    check_properties = validator_class.VALIDATORS["properties"]

    def properties(validator, declared, instance, schema_doc):
        if isinstance(instance, dict):
            for name, subschema in declared.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from check_properties(validator, declared, instance, schema_doc)

    return jsonschema.validators.extend(validator_class, {"properties": properties})


_Validator = _filling_defaults(jsonschema.Draft202012Validator)


def load_config(root: Path) -> Config:
    """Load and check the configuration in `root`; raises ConfigError with every problem."""
    root = Path(root)
    if not (root / "jobs.yaml").is_file():
        raise TransformerError(f"{root.resolve()} is not a config folder (it has no jobs.yaml): write one with "
                               f"`akeneo-sfcc init {root}`, or name yours with --config DIR")
    return _Loader(root).load()


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
        self.mappings: dict[tuple[str, str], object] = {}

    # -- files --------------------------------------------------------------------------

    def load_file(self, relative: str, schema_name: str) -> Loaded:
        """Parse, schema-check and default-fill one file once per schema; problems are collected."""
        key = (relative, schema_name)
        if key not in self.files:
            loaded = load_yaml(self.root / relative, relative)
            self.problems += loaded.problems
            if not loaded.problems:
                self.problems += schema_problems(loaded, _checked_schema(schema_name))
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
        jobs = {job_id: self.job(job_id, spec, site, jobs_file) for job_id, spec in job_specs.items()}
        chains = {name: self.chain(name, members, job_specs, aliases, jobs_file)
                  for name, members in _dict(doc.get("chains")).items()}
        self.template_syntax()
        self.same_filters(job_specs, jobs_file)
        if self.problems:
            raise ConfigError(sorted(set(self.problems), key=lambda p: (p.file, p.line, p.column, p.message)))
        validation = _dict(self.files.get((str(doc.get("settings")), "site.schema.json"), jobs_file).data)
        xsd_dir = self.root / validation["xsd_dir"] if isinstance(validation.get("xsd_dir"), str) else None
        return Config(self.root, self.root / "templates", site, jobs, chains, aliases, xsd_dir,
                      validation.get("require_xsd") is True)

    def same_filters(self, jobs: dict, jobs_file: Loaded) -> None:
        """The store keeps one copy of each item, so every job must read an endpoint the same way:
        a narrower read by one job would drop (or strip values of) items another job relies on."""
        first: dict[str, tuple[str, object]] = {}
        for job_id, spec in jobs.items():
            for index, source in enumerate(_list(spec.get("sources"))):
                endpoint = ENDPOINTS.get(source.get("endpoint")) if isinstance(source, dict) else None
                if endpoint is None or not endpoint.filtered:
                    continue
                filters = {k: source[k] for k in SOURCE_FILTERS if k in source}
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
                    data.get("channel"), dict(locales), default, tuple(_list(data.get("currencies"))))

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

    def job(self, job_id: str, spec: dict, site: Site | None, jobs_file: Loaded) -> Job:
        where = ("jobs", job_id)
        engine = ENGINES.get(spec.get("engine"))  # an unknown name is a schema problem (the schema lists them)
        sources = tuple(self.source(s, where + ("sources", i), jobs_file)
                        for i, s in enumerate(_list(spec.get("sources"))) if isinstance(s, dict))
        mappings = Mappings(**{role: self.mapping(role, relative, where + ("mappings", role), jobs_file)
                               for role, relative in _dict(spec.get("mappings")).items() if role in MAPPING_SCHEMAS})
        outputs = {name: self.output(name, o, site, where + ("outputs", name), jobs_file)
                   for name, o in _dict(spec.get("outputs")).items() if isinstance(o, dict)}
        if engine is not None:
            self.engine_needs(engine, spec, where, jobs_file)
        return Job(job_id, spec.get("alias"), spec.get("title"), engine, spec.get("mode"), sources, mappings, outputs)

    def engine_needs(self, engine: Engine, spec: dict, where: tuple, jobs_file: Loaded) -> None:
        """What the engine table says a job naming `engine` must declare, and may not."""
        name = engine.name
        if spec.get("mode") in ("full", "differential") and spec["mode"] not in engine.modes:
            self.add(jobs_file, where + ("mode",), f"engine '{name}' runs only in mode {', '.join(engine.modes)}")
        roles = _dict(spec.get("mappings"))
        for role in engine.roles:
            if role not in roles:
                self.add(jobs_file, where + ("mappings",), f"engine '{name}' needs a '{role}' mapping")
        readable = engine.roles + engine.optional_roles
        for role in roles:
            if role in MAPPING_SCHEMAS and role not in readable:
                self.add(jobs_file, where + ("mappings", role),
                         f"engine '{name}' reads no '{role}' mapping (it reads: {', '.join(readable)})")
        outputs = _dict(spec.get("outputs"))
        for output, kinds in engine.outputs.items():
            if output not in outputs:
                self.add(jobs_file, where + ("outputs",), f"engine '{name}' needs output '{output}'")
                continue
            templates = _dict(_dict(outputs[output]).get("record_templates"))
            for kind in kinds:
                if kind not in templates:
                    self.add(jobs_file, where + ("outputs", output, "record_templates"),
                             f"engine '{name}' needs a record template for its '{kind}' records")
            for kind in templates:
                if kind not in kinds:
                    self.add(jobs_file, where + ("outputs", output, "record_templates", kind),
                             f"output '{output}' of engine '{name}' has no '{kind}' records{hint(kind, kinds)} "
                             f"(it renders: {', '.join(kinds)})")
        for output in outputs:
            if output not in engine.outputs:
                known = ", ".join(engine.outputs) or "none"
                self.add(jobs_file, where + ("outputs", output),
                         f"engine '{name}' has no output '{output}'{hint(output, engine.outputs)} (its outputs: {known})")

    def source(self, spec: dict, where: tuple, jobs_file: Loaded) -> Source:
        name = spec.get("endpoint")
        endpoint = ENDPOINTS.get(name) if isinstance(name, str) else None
        if isinstance(name, str) and endpoint is None:
            retired = (": media files are downloaded from what products and models reference; say `download: true` "
                       "on the products and product-models sources") if name == "media-files" else hint(name, ENDPOINTS)
            self.add(jobs_file, where + ("endpoint",), f"unknown endpoint '{name}'{retired}")
        if spec.get("download") and endpoint is not None and name not in DOWNLOADABLE:
            self.add(jobs_file, where + ("download",), f"endpoint '{name}' has no binaries to download "
                     f"(only {', '.join(DOWNLOADABLE)})")
        if endpoint is not None and not endpoint.filtered:
            for key in SOURCE_FILTERS:
                if spec.get(key) not in (None, []):  # [] is the default of locales and attributes
                    self.add(jobs_file, where + (key,), f"endpoint '{name}' takes no '{key}' filter")
        return Source(endpoint, spec.get("search"), spec.get("scope"), tuple(_list(spec.get("locales"))),
                      tuple(_list(spec.get("attributes"))), bool(spec.get("download")), spec.get("download_errors"))

    def output(self, name: str, spec: dict, site: Site | None, where: tuple, jobs_file: Loaded) -> Output:
        templates = {kind: template for kind, template in _dict(spec.get("record_templates")).items()
                     if isinstance(template, str)}
        named = {("template",): spec.get("template")} | {("record_templates", k): t for k, t in templates.items()}
        for key, template in named.items():
            if isinstance(template, str) and not (self.root / "templates" / template).is_file():
                self.add(jobs_file, where + key, f"template not found: templates/{template}{hint(template, self.templates())}")
        path = spec.get("path")
        if isinstance(path, str):
            path = self.output_path(path, site, where + ("path",), jobs_file)
        return Output(name, spec.get("template"), templates, path)

    def output_path(self, path: str, site: Site | None, where: tuple, jobs_file: Loaded) -> str:
        """The path with its placeholders filled from the site settings."""
        if any(part in (".", "..") for part in path.split("/")):
            self.add(jobs_file, where, "'.' and '..' are not allowed: outputs stay inside the archive")
        try:
            names = [name for _, name, _, _ in string.Formatter().parse(path) if name is not None]
        except ValueError as exc:
            self.add(jobs_file, where, f"invalid placeholder: {exc}")
            return path
        unknown = [name for name in names if name not in OUTPUT_PLACEHOLDERS]
        for name in unknown:
            self.add(jobs_file, where, f"unknown placeholder '{{{name}}}'{hint(name, OUTPUT_PLACEHOLDERS)}")
        if unknown or site is None:
            return path
        return path.format(**{name: getattr(site, name) or "" for name in OUTPUT_PLACEHOLDERS})

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

    # -- mapping files, one settings class per role ---------------------------------------------

    def mapping(self, role: str, relative: object, where: tuple, jobs_file: Loaded) -> object:
        if not self.exists(jobs_file, where, relative, "mapping file"):
            return None
        key = (role, relative)
        if key not in self.mappings:
            loaded = self.load_file(relative, MAPPING_SCHEMAS[role])
            self.mappings[key] = getattr(self, f"{role}_settings")(loaded, _dict(loaded.data))
        return self.mappings[key]

    @staticmethod
    def assets_settings(loaded: Loaded, data: dict) -> AssetSettings:
        return _plain(AssetSettings, data, image_attributes_at=loaded.location(("image_attributes",)),
                      asset_attributes_at=loaded.location(("asset_attributes",)))

    @staticmethod
    def categories_settings(loaded: Loaded, data: dict) -> CategorySettings:
        named = "top_level_category" if data.get("top_level_category") else "trees"
        return _plain(CategorySettings, data, trees_at=loaded.location((named,)))

    @staticmethod
    def prices_settings(loaded: Loaded, data: dict) -> PriceSettings:
        return _plain(PriceSettings, data, origin=loaded.location(("attribute",)))

    @staticmethod
    def content_settings(loaded: Loaded, data: dict) -> ContentSettings:
        groups = tuple(RecordGroup(g.get("entity"), tuple(_list(g.get("records"))))
                       for g in _list(data.get("record_grouping")) if isinstance(g, dict))
        return ContentSettings(data.get("shared_library"), data.get("content_attribute_group"), groups)

    def products_settings(self, loaded: Loaded, data: dict) -> ProductMapping:
        system = tuple((SYSTEM_BY_NAME[name], self.field(spec, ("system", name), loaded))
                       for name, spec in _dict(data.get("system")).items()
                       if name in SYSTEM_BY_NAME and isinstance(spec, dict))
        custom = _dict(data.get("custom_attributes"))
        rules_by_type = {}
        for attribute_type, rule_name in _dict(custom.get("rules_by_type")).items():
            where = ("custom_attributes", "rules_by_type", attribute_type)
            if attribute_type not in DEFAULT_RULE_BY_TYPE:
                self.add(loaded, where, f"unknown attribute type '{attribute_type}'{hint(attribute_type, DEFAULT_RULE_BY_TYPE)}")
            found = self.rule(rule_name, {}, where, where, loaded)
            if found is not None:
                rules_by_type[attribute_type] = TypeRule(found, loaded.location(where))
        overrides = {}
        for code, spec in _dict(custom.get("attributes")).items():
            where = ("custom_attributes", "attributes", code)
            spec = _dict(spec)
            args = _dict(spec.get("args"))
            rule = self.rule(spec.get("rule"), args, where + ("rule",), where + ("args",), loaded)
            overrides[code] = AttributeOverride(spec.get("id"), rule, args, loaded.location(where))
        include = custom.get("include")
        return ProductMapping(loaded.file, loaded.location(("custom_attributes",)), system,
                              frozenset(include) if isinstance(include, list) else None,
                              frozenset(_list(custom.get("exclude"))), rules_by_type, overrides,
                              self.associations(_dict(data.get("associations")), loaded),
                              data.get("deleted_products"), data.get("variations"), data.get("clear_empty_values"))

    def associations(self, data: dict, loaded: Loaded) -> Associations:
        def by_family(key: str) -> FamilyAssociation | None:
            found = _dict(data.get(key))
            return FamilyAssociation(tuple(_list(found.get("families"))), found.get("association"),
                                     loaded.location(("associations", key))) if found else None

        sets, bundles = by_family("product_sets"), by_family("bundles")
        shared = set(sets.families if sets else ()) & set(bundles.families if bundles else ())
        if shared:
            self.add(loaded, ("associations", "bundles", "families"),
                     f"families {', '.join(sorted(shared))} are also product set families: a product is a set or a bundle")
        recommendations = {kind: str(number) for kind, number in _dict(data.get("recommendation_types")).items()}
        return Associations(data.get("target"), dict(_dict(data.get("link_types"))), recommendations, sets, bundles,
                            loaded.location(("associations", "link_types")))

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
        args = _dict(spec.get("args"))
        rule = self.rule(spec.get("rule"), args, where + ("rule",), where + ("args",), loaded)
        return Field(sources, rule, args, default, loaded.location(where + ("from",)))

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


def _plain(cls, data: dict, **extra):
    """A settings dataclass whose fields are the file's keys (schema-checked, defaults filled) and
    `extra`; lists become tuples."""
    return cls(**{f.name: tuple(v) if isinstance(v := data.get(f.name), list) else v for f in fields(cls)
                  if f.name not in extra}, **extra)


def schema_problems(loaded: Loaded, schema_doc: dict) -> list[ConfigProblem]:
    """Every schema violation of a document, each at the key it is about (filling in defaults)."""
    problems = []
    for error in _Validator(schema_doc).iter_errors(loaded.data):
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
