"""The catalogue's data files (offences.csv, forces.csv), read with importlib.resources."""
