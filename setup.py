"""Builds the package with its message catalogs compiled: each locales/*/LC_MESSAGES/milestones.po gets its .mo.

Everything else is declared in pyproject.toml. An editable install builds nothing into the source tree; the
service then reads the .po files themselves (milestones.wording.languages.load_catalog), with the same messages.
"""

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from setuptools import setup
from setuptools.command.build_py import build_py


def compile_catalogs(package: Path) -> list[str]:
    """Writes a .mo beside every .po under the package's locales/ (fuzzy entries left out); their paths."""
    written = []
    for po in sorted(package.glob("locales/*/LC_MESSAGES/*.po")):
        with po.open("rb") as stream:
            catalog = read_po(stream, locale=po.parent.parent.name)
        mo = po.with_suffix(".mo")
        with mo.open("wb") as stream:
            write_mo(stream, catalog)
        written.append(str(mo))
    return written


class BuildWithCatalogs(build_py):
    def run(self) -> None:
        super().run()
        if not self.editable_mode:
            compile_catalogs(Path(self.build_lib) / "milestones")


setup(cmdclass={"build_py": BuildWithCatalogs})
