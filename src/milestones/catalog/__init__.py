"""The milestone definitions: catalog files (TOML) read and validated, and the versions the database keeps."""

from milestones.catalog.files import (
    MAX_DESCRIPTION,
    MAX_THRESHOLD,
    VERSION_PATTERN,
    CatalogError,
    CatalogFile,
    catalog_version,
    is_version,
    load_catalog,
    load_catalog_file,
    parse_catalog,
)
from milestones.catalog.versions import (
    CatalogVersion,
    CatalogVersions,
    DefinitionChange,
    catalog_of,
    content_of,
    definitions_of,
    diff,
    drawn_alike,
)

__all__ = [
    "MAX_DESCRIPTION",
    "MAX_THRESHOLD",
    "VERSION_PATTERN",
    "CatalogError",
    "CatalogFile",
    "CatalogVersion",
    "CatalogVersions",
    "DefinitionChange",
    "catalog_of",
    "catalog_version",
    "content_of",
    "definitions_of",
    "diff",
    "drawn_alike",
    "is_version",
    "load_catalog",
    "load_catalog_file",
    "parse_catalog",
]
