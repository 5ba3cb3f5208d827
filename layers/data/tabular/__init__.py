"""Preparing any tabular CSV for the built-in XGBoost from its dataset spec: read, validate, derive,
split, fit on training rows only, apply, profile and warn. Shipped in the DataLayer (pandas, numpy);
the functions' handlers and the CLI call it with plain bytes and specs.
"""
