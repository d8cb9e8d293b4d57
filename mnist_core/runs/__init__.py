"""Run folders: saving, loading and listing trained runs, written atomically."""
