"""Side-by-side benchmarks of autodl against KerasTuner and a bare Keras loop (`make bench`)."""
