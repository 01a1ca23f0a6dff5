"""Keeps the message catalogs in step with the English texts, and starts a catalog for a new language.

    .venv/bin/python scripts/messages.py            # rewrites locales/milestones.pot and brings every .po up to date
    .venv/bin/python scripts/messages.py --init it  # starts locales/it/LC_MESSAGES/milestones.po, to translate

A .po keeps its translations; texts that are new get empty entries to fill in, texts that left are dropped.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from milestones.wording.languages import DOMAIN, ENGLISH, languages
from milestones.wording.messages import template

LOCALES = Path(__file__).resolve().parent.parent / "src" / "milestones" / "locales"


def catalog_file(language: str) -> Path:
    return LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def write(catalog: Catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as stream:
        write_po(stream, catalog, width=120, omit_header=False)


def update(language: str) -> tuple[int, int]:
    """Rewrites a language's catalog from its template, keeping its translations; (missing, dropped) counts."""
    path = catalog_file(language)
    with path.open("rb") as stream:
        old = read_po(stream, locale=language, domain=DOMAIN)
    kept = {(m.context, m.id): m for m in old if m.id}
    new = template(language)
    new.language_team, new.last_translator = old.language_team, old.last_translator
    missing = 0
    for message in new:
        if not message.id:
            continue
        before = kept.pop((message.context, message.id), None)
        if before is not None:
            message.string, message.flags, message.user_comments = before.string, before.flags, before.user_comments
        if not message.string:
            missing += 1
    write(new, path)
    return missing, len(kept)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--init", metavar="LOCALE", help="start the catalog of a new language (it, nl, pt_PT)")
    args = parser.parse_args(argv)
    if args.init:
        try:
            language = str(Locale.parse(args.init.replace("-", "_")))
        except (ValueError, UnknownLocaleError):
            print(f"messages: {args.init!r} is not a locale CLDR knows (try it, nl or pt_PT)", file=sys.stderr)
            return 2
        if language == ENGLISH or catalog_file(language).exists():
            print(f"messages: {language} already has its catalog", file=sys.stderr)
            return 2
        write(template(language), catalog_file(language))
        print(f"wrote {catalog_file(language).relative_to(LOCALES.parent.parent.parent)}: fill in every msgstr")
        return 0
    write(template(), LOCALES / f"{DOMAIN}.pot")
    for language in languages()[1:]:
        missing, dropped = update(language)
        print(f"{language}: {missing} untranslated, {dropped} dropped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
