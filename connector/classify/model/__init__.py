"""The shipped default local model (package data; built by scripts/train_default_model.py)."""
