"""akeneo-sfcc: a declarative transformer from an Akeneo PIM to SFCC import XML."""

__version__ = "0.1.0"
