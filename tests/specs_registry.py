"""Imports every `tests/<app>/specs.py` so the generic isolation test knows every app's API models."""
import importlib
import pkgutil
from pathlib import Path

for module in pkgutil.iter_modules([str(Path(__file__).parent)]):
    if module.ispkg and (Path(__file__).parent / module.name / "specs.py").exists():
        importlib.import_module(f"tests.{module.name}.specs")
