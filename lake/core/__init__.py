"""The shared core: errors, names, configuration and storage settings.

Imports nothing else of the project: every other package may use it.
"""
