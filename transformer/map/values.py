"""What every map module shares: choosing the entries of a PIM value for the site's channel and
locales, and spreading per-locale texts over SFCC languages (x-default first)."""

from __future__ import annotations

from ..rules import RuleError
from ..sfcc import xml_safe

X_DEFAULT = "x-default"
Localized = list[tuple[str, str]]  # (xml:lang, text), x-default first
Value = str | list[str]

# Products and models name a value's channel `scope`; assets and reference entity records `channel`.
PRODUCT_CHANNEL = "scope"
ASSET_CHANNEL = "channel"
NO_DATA = (None, "", [], {})  # an entry with such data holds no value


def channel_entries(entries: object, channel: str, languages: dict | None = None, key: str = PRODUCT_CHANNEL
                    ) -> list[dict]:
    """The entries (`{locale, scope or channel, data}`) of a PIM value that the site exports: for
    `channel` or for no channel, for one of `languages` or for no locale (any locale when None),
    and with data. Raises RuleError for anything but a list of such objects."""
    try:
        return [e for e in entries if e.get(key) in (None, channel) and e.get("data") not in NO_DATA
                and (languages is None or e.get("locale") is None or e.get("locale") in languages)]
    except (AttributeError, TypeError):
        raise RuleError(f"values must be a list of {{locale, {key}, data}} objects") from None


def channel_values(entries: object, channel: str, languages: dict | None = None, key: str = PRODUCT_CHANNEL
                   ) -> list[tuple[str | None, object]]:
    """(locale, data) of the entries `channel_entries` keeps."""
    return [(e.get("locale"), e["data"]) for e in channel_entries(entries, channel, languages, key)]


def localize(by_locale: dict[str | None, Value], languages: dict[str, str], default_locale: str) -> Localized:
    """Spread per-locale values over SFCC languages: the default locale's value (or else the
    first exported locale's) is also `x-default`; a value without locale is only `x-default`."""
    if None in by_locale:
        return [(X_DEFAULT, by_locale[None])]
    present = [locale for locale in languages if by_locale.get(locale) not in (None, "", [])]
    if not present:
        return []
    fallback = default_locale if default_locale in present else present[0]
    return [(X_DEFAULT, by_locale[fallback])] + [(languages[locale], by_locale[locale]) for locale in present]


def localized_labels(labels: dict | None, languages: dict[str, str], default_locale: str, fallback: str) -> Localized:
    """PIM labels (by locale) as SFCC display names, x-default first; `fallback` when there is none."""
    labels = labels or {}
    by_locale = {locale: xml_safe(labels[locale])[:4000] for locale in languages if isinstance(labels.get(locale), str)
                 and labels[locale]}
    return localize(by_locale, languages, default_locale) or [(X_DEFAULT, xml_safe(fallback)[:4000])]
