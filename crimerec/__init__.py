"""crimerec's command line: runs the three services, alone or all together with embedded engines."""
