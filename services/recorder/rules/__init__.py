"""The recording standard as pure functions: no I/O, tested with plain data."""
