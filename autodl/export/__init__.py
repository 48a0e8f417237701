"""The deployable bundle: each format saved and checked against Keras, refit on more data when
asked, the model card, and ``autodl predict`` on raw input."""

from autodl.export.bundle import ExportOptions, export_spec, write_bundle

__all__ = ["ExportOptions", "export_spec", "write_bundle"]
