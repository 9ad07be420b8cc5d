"""The Amazon States Language: definitions, validation, JSONPath, intrinsics, JSONata.

Pure functions and data: no I/O, no threads, nothing imported from the rest of stepkit.
"""
