"""An organisation's look for the learner's pages: ``bridge.branding_dir``.

The folder may hold any of::

    templates/      Jinja templates replacing the bridge's own, by name (base.html, error.html…)
    static/         files served at /static/, before the bridge's own (logo.svg, brand.css…)
    texts/<lang>.po single texts replaced per language (msgid: the English text)

Everything missing falls back to the bridge's defaults. The texts are gettext catalogues, read
with Babel at start-up; a broken one is a configuration error naming the file.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.pofile import PoFileError, read_po

from sso_bridge.errors import ConfigError


class Branding:
    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._texts: dict[str, dict[str, str]] = {}
        if folder is None:
            return
        if not folder.is_dir():
            raise ConfigError(f"'bridge.branding_dir': {folder} is not a folder")
        for po in sorted((folder / "texts").glob("*.po")):
            self._texts[po.stem] = _read_texts(po)

    @property
    def templates(self) -> Path | None:
        return self.folder / "templates" if self.folder else None

    @property
    def static(self) -> Path | None:
        return self.folder / "static" if self.folder else None

    def text(self, language: str, message: str) -> str | None:
        """The organisation's own wording of ``message`` in ``language``, if it has one."""
        texts = self._texts.get(language)
        return texts.get(message) if texts else None


def _read_texts(path: Path) -> dict[str, str]:
    try:
        with path.open("rb") as handle:
            catalog = read_po(handle, abort_invalid=True)
    except (OSError, PoFileError, ValueError) as exc:
        raise ConfigError(f"'bridge.branding_dir': cannot read {path}: {exc}") from exc
    return {str(m.id): str(m.string) for m in catalog
            if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}
