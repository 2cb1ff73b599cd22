"""The dev kit: vendor emulators (``sandbox``), benchmarks (``bench``), the demo and in-memory
fakes. It ships with the package (``make demo`` and ``deskguard sandbox|bench|demo`` use it), but
no product module imports it: only the CLI root adds its commands (connector/devkit/cli.py)."""
