"""Closed forms derived with sympy from the estimators' definitions (docs/theory.md section 4)."""
