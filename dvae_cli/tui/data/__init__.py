"""What the browser shows, read and prepared without Textual (called from thread workers)."""
