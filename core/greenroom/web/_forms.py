"""Reading a posted form as text: every field the portal's forms send is a text field.

A multipart request may send any field as a file; read naively it would become the text
``UploadFile(filename=...)`` in an incident's title or note. Files are refused by name instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.datastructures import UploadFile
from starlette.requests import Request


@dataclass
class TextForm:
    fields: dict[str, str] = field(default_factory=dict)
    #: Names of the fields that were sent as files (and refused).
    files: list[str] = field(default_factory=list)

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.fields.get(key, default)

    def items(self) -> list[tuple[str, str]]:
        return list(self.fields.items())

    def refusal(self) -> str:
        names = ", ".join(repr(n) for n in self.files)
        return f"This form takes text only, and {names} was sent as a file. Type the text instead."


async def read_text_form(request: Request) -> TextForm:
    """The form's text fields (the last value of a repeated name) and the names of any files."""
    form = TextForm()
    async with request.form() as raw:
        for key, value in raw.multi_items():
            if isinstance(value, UploadFile):
                if key not in form.files:
                    form.files.append(key)
            else:
                form.fields[key] = value
    return form
