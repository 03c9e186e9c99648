"""The deadline worker process."""
