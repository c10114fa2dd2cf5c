"""The faces: the Python API (``Lake``), the command line and the HTTP service.

They hold no logic: each parses its input, calls the stages and renders the result.
Nothing below the faces imports them.
"""
