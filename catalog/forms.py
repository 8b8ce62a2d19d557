"""Forms of the catalog pages: the upload with its read options, and the item search."""

from __future__ import annotations

from django import forms

from recsys_site.errors import ValidationFailed
from recsys_site.uploads import ReadOptions

FORMAT_CHOICES = [("auto", "Detect from the file"), ("csv", "CSV"), ("jsonl", "JSON lines (one object per line)")]
DELIMITER_CHOICES = [
    ("", "Detect (comma, tab, semicolon or pipe)"),
    (",", "Comma ,"),
    (";", "Semicolon ;"),
    ("tab", "Tab"),
    ("|", "Pipe |"),
    ("space", "Space"),
]


class UploadForm(forms.Form):
    """A file and how to read it: the same options `POST /api/v1/.../imports` takes."""

    file = forms.FileField(help_text="CSV (UTF-8, may be gzipped) or JSON lines.")
    format = forms.ChoiceField(choices=FORMAT_CHOICES, required=False, initial="auto")
    delimiter = forms.ChoiceField(choices=DELIMITER_CHOICES, required=False)
    has_header = forms.BooleanField(required=False, initial=True, label="The first row is a header")
    column_names = forms.CharField(
        required=False,
        max_length=20_000,
        help_text="Comma-separated, in file order. Required when the file has no header row; "
        "otherwise they replace the header's names.",
    )
    mapping = forms.CharField(
        required=False,
        max_length=20_000,
        label="Column mapping (JSON)",
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text='Your column → ours, e.g. {"product_id": "id", "title": "name"}; map a column to null to skip it.',
    )

    option_names = ("format", "delimiter", "has_header", "column_names", "mapping")

    def main_fields(self) -> list[forms.BoundField]:
        """The fields shown at once; the read options fold away under "How to read the file"."""
        return [field for field in self if field.name not in self.option_names]

    def option_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.option_names]

    def options_have_errors(self) -> bool:
        return any(field.errors for field in self.option_fields())

    def read_params(self) -> dict[str, str]:
        """The read options as the import services take them (strings, like a multipart API request)."""
        data = self.cleaned_data
        params = {
            "format": data.get("format") or "auto",
            "delimiter": data.get("delimiter") or "",
            "has_header": "true" if data.get("has_header") else "false",
            "column_names": (data.get("column_names") or "").strip(),
            "mapping": (data.get("mapping") or "").strip(),
        }
        return {key: value for key, value in params.items() if value}

    def clean(self):
        cleaned = super().clean()
        try:
            ReadOptions.from_params(self.read_params())
        except ValidationFailed as exc:
            field = exc.details.get("field")
            self.add_error(field if field in self.fields else None, exc.message)
        return cleaned


class CatalogUploadForm(UploadForm):
    field_order = ["file", "format", "delimiter", "has_header", "column_names", "mapping"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = (
            "CSV (UTF-8, may be gzipped) or JSON lines with columns id and name, and optionally main_category, "
            "sub_category, description, tags, image, link, ratings, no_of_ratings, discount_price, actual_price, "
            "discount_ratio, is_active. Rows update items with the same id."
        )


class ItemSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Search", help_text="Part of the name, or an exact id.")
    category = forms.CharField(required=False, max_length=255, help_text="Main or sub-category.")
