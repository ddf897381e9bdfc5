"""Write operations as plain functions: models and plain values in, flush(), never commit()."""
