"""Executions: a definition compiled once into state objects, run as a loop over transitions."""
