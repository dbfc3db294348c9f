"""The inspector's rules as pure functions over the auditor's projection: no I/O, tested with plain data."""
