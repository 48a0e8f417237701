"""What the user writes: the spec's sections, its hyperparameter space, and loading it.

The public face is ``load_spec`` and ``Spec``; the section models, the space's distributions and
the registries of names live in the modules beside this one.
"""

from autodl.spec.document import Spec, json_schema, load_spec, objective_problem

__all__ = ["Spec", "json_schema", "load_spec", "objective_problem"]
