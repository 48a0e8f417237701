"""autodl: find good Keras models for your data from one YAML spec."""

__version__ = "0.1.0"
