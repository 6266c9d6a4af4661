"""`akeneo-sfcc init`: a config folder of one's own, copied from the config this package ships.

The shipped config is the checkout's `jobs.yaml`, `mappings/` and `templates/`, which the wheel
carries as `transformer/defaults/` (pyproject.toml). The JSON Schemas are copied too, so that the
`$schema` line each YAML file starts with still resolves in the new folder (editor completion).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .errors import TransformerError

PACKAGE = Path(__file__).resolve().parent
CONFIG_FILES = ("jobs.yaml", "mappings", "templates")
# Where the schemas sit in the checkout, and where a config folder of one's own keeps them.
SHIPPED_SCHEMAS, OWN_SCHEMAS = "transformer/schemas/", "schemas/"

ENV_EXAMPLE = """\
# Copy to .env (never commit it) or set these in the environment.
# The PIM: a connection (API user) of Akeneo's "Connections" screen.
AKENEO_URL=https://your-pim.example.com
AKENEO_CLIENT_ID=
AKENEO_SECRET=
AKENEO_USERNAME=
AKENEO_PASSWORD=

# SFCC, for `run --deliver` and `deliver` (README: Delivering to SFCC). A dw.json works too.
SFCC_SERVER=your-instance.dx.commercecloud.salesforce.com
SFCC_CLIENT_ID=
SFCC_CLIENT_SECRET=
# A WebDAV access key (Business Manager: My Profile > Access keys), or leave empty to use the client.
SFCC_USERNAME=
SFCC_PASSWORD=

# The official SFCC XSDs are not read from here: set SFCC_XSD_DIR in the environment, or xsd_dir in
# mappings/site.yaml (README: Quick start says where SFCC developers get them).
"""

GITIGNORE = """\
.env
dw.json
.akeneo-sfcc/
out/
"""


def shipped_config() -> Path:
    """The config folder this package ships: `transformer/defaults/` in an installed wheel, the
    checkout itself in an editable install."""
    packaged = PACKAGE / "defaults"
    return packaged if (packaged / "jobs.yaml").is_file() else PACKAGE.parent


def init(folder: Path, force: bool = False) -> list[Path]:
    """Write a complete config folder into `folder` (created if needed); returns what it wrote.
    A folder that holds anything is refused unless `force`, which overwrites the config files and
    leaves everything else (a store, runs, a .env) alone."""
    if folder.is_dir() and any(folder.iterdir()) and not force:
        raise TransformerError(f"{folder} is not empty: init writes into an empty or new folder "
                               "(--force overwrites the config files in it)")
    if folder.exists() and not folder.is_dir():
        raise TransformerError(f"{folder} is a file, not a folder")
    source = shipped_config()
    written = [_copy(source / name, folder / name) for name in CONFIG_FILES]
    written.append(_copy(PACKAGE / "schemas", folder / OWN_SCHEMAS.rstrip("/")))
    for yaml_file in [folder / "jobs.yaml", *sorted((folder / "mappings").glob("*.yaml"))]:
        _point_schema_line(yaml_file)
    for name, text in ((".env.example", ENV_EXAMPLE), (".gitignore", GITIGNORE)):
        if not (folder / name).exists():
            (folder / name).write_text(text, encoding="utf-8")
            written.append(folder / name)
    return written


def _copy(source: Path, target: Path) -> Path:
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return target


def _point_schema_line(path: Path) -> None:
    """The `# yaml-language-server: $schema=` line, pointed at the folder's own copy of the schemas."""
    first, _, rest = path.read_text(encoding="utf-8").partition("\n")
    if "$schema=" in first:
        path.write_text(first.replace(SHIPPED_SCHEMAS, OWN_SCHEMAS) + "\n" + rest, encoding="utf-8")
