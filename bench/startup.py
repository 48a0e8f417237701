"""Start-up: how long `autodl --help` and `autodl validate` take, against importing TensorFlow.

Both commands must stay fast because they never import TensorFlow; the baseline is a bare
`python -c "import tensorflow"` measured in the same run. Each command runs in a fresh process,
round robin, and the median is reported.
"""

from __future__ import annotations

from collections.abc import Sequence

from bench.common import (
    AUTODL,
    PYTHON,
    ROOT,
    Figure,
    median,
    parser,
    ratio,
    report,
    run,
)

SPEC = ROOT / "search_spaces" / "digits_cnn.yaml"
LOADED_CHECK = (
    "import sys\n"
    "from autodl.cli import main\n"
    "sys.argv = ['autodl', 'validate', sys.argv[1]]\n"
    "try:\n"
    "    main()\n"
    "except SystemExit:\n"
    "    pass\n"
    "print('LOADED', int('tensorflow' in sys.modules or 'keras' in sys.modules))\n"
)


def tensorflow_loaded_by_validate() -> float:
    """1 when `autodl validate` imports TensorFlow or Keras in its process, else 0."""
    _, stdout = run([PYTHON, "-c", LOADED_CHECK, str(SPEC)])
    return float(next(line.split()[1] for line in stdout.splitlines() if line.startswith("LOADED")))


def main(argv: Sequence[str] | None = None) -> None:
    """Time the three commands (3 rounds, 1 with ``--quick``) and print the medians and ratios."""
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    rounds = 1 if args.quick else 3
    commands = {
        "tf_import": [PYTHON, "-c", "import tensorflow"],
        "help": [AUTODL, "--help"],
        "validate": [AUTODL, "validate", str(SPEC)],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(rounds):
        for name, command in commands.items():
            times[name].append(run(command)[0])
    tf_s, help_s, validate_s = (median(times[name]) for name in commands)
    figures = [
        Figure("startup.tf_import_s", tf_s, "s", 'baseline: python -c "import tensorflow"'),
        Figure("startup.help_s", help_s, "s", "autodl --help"),
        Figure("startup.validate_s", validate_s, "s", "autodl validate search_spaces/digits_cnn.yaml"),
        Figure("startup.help_ratio", ratio(help_s, tf_s), "x", "autodl --help / import tensorflow"),
        Figure("startup.validate_ratio", ratio(validate_s, tf_s), "x",
               "autodl validate / import tensorflow"),
        Figure("startup.validate_loads_tf", tensorflow_loaded_by_validate(), "bool",
               "1 if autodl validate imported tensorflow or keras (should be 0)"),
    ]
    report("startup", figures, {"rounds": rounds, "times_s": times}, args.out, args.quick)


if __name__ == "__main__":
    main()
