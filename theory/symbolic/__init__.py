"""Closed forms derived with sympy from the estimators' definitions (THEORY.md section 4)."""
